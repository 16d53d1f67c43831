"""The version diff (domain/plan_diff.py): plan fields, and steps added, removed and changed field by field."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.plan_diff import ADDED, CHANGED, ORDER, REMOVED, FieldChange, diff_plans, flatten
from chalicelib.domain.plan_documents import plan_from_json
from chalicelib.domain.plans import Plan


def _step(step_id: str, **over: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": step_id,
        "day": 1,
        "at": "09:00",
        "content_type": "service",
        "message": {"text": "hi"},
    }
    step.update(over)
    return step


def _plan(version: int, steps: list[dict[str, Any]], **over: Any) -> Plan:
    doc: dict[str, Any] = {"name": "新客7天培育", "trigger": {"type": "manual"}, "steps": steps, **over}
    return replace(plan_from_json(doc), plan_id="pl_1", version=version)


def test_identical_versions_have_an_empty_diff() -> None:
    steps = [_step("s1"), _step("s2", day=2)]
    diff = diff_plans(_plan(1, steps), _plan(2, steps))
    assert diff.empty and diff.unchanged_steps == 2 and (diff.from_version, diff.to_version) == (1, 2)


def test_steps_added_removed_and_changed_field_by_field() -> None:
    old = _plan(1, [_step("s1"), _step("s2", notes="破冰"), _step("s3")])
    new = _plan(2, [_step("s1"), _step("s2", at="20:00", message={"text": "9.9元体验"}), _step("s4", day=3)])
    diff = diff_plans(old, new)
    assert [(s.step_id, s.change) for s in diff.steps] == [("s2", CHANGED), ("s4", ADDED), ("s3", REMOVED)]
    changed = diff.steps[0]
    assert changed.fields == (
        FieldChange("at", "09:00", "20:00"),
        FieldChange("message.text", "hi", "9.9元体验"),
        FieldChange("notes", "破冰", ""),
    )
    assert diff.steps[1].step is not None and diff.steps[1].step["day"] == 3
    assert diff.steps[2].step is not None and diff.steps[2].step["id"] == "s3"
    assert diff.unchanged_steps == 1 and diff.plan_fields == ()


def test_a_timing_form_change_names_both_sides() -> None:
    moved = _plan(2, [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "hi"}}])
    fields = {f.field: (f.old, f.new) for f in diff_plans(_plan(1, [_step("s1")]), moved).steps[0].fields}
    assert fields == {"after_minutes": (None, 5), "day": (1, None), "at": ("09:00", None)}


def test_a_reordered_step_shows_its_new_position_among_the_common_steps() -> None:
    old = _plan(1, [_step("s1"), _step("s2"), _step("s3")])
    new = _plan(2, [_step("s0"), _step("s2"), _step("s1"), _step("s3")])  # s0 added: not a reorder by itself
    diff = diff_plans(old, new)
    orders = {s.step_id: [f for f in s.fields if f.field == ORDER] for s in diff.steps}
    assert orders == {"s0": [], "s2": [FieldChange(ORDER, 2, 1)], "s1": [FieldChange(ORDER, 1, 2)]}


def test_plan_fields_are_dotted_paths() -> None:
    old = _plan(1, [_step("s1")], priority=10)
    new = _plan(2, [_step("s1")], priority=20, trigger={"type": "stage", "stage": "trial"}, name="新客培育v2")
    fields = {f.field: (f.old, f.new) for f in diff_plans(old, new).plan_fields}
    assert fields["priority"] == (10, 20) and fields["name"] == ("新客7天培育", "新客培育v2")
    assert fields["trigger.type"] == ("manual", "stage") and fields["trigger.stage"] == (None, "trial")
    assert "steps" not in fields


def test_flatten_keeps_lists_and_empty_objects_whole() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}, "e": None}) == {"a.b": 1, "a.c": [1, 2], "d": {}, "e": None}
