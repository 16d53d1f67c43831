"""What changed between two versions of a plan: the plan's own fields, and its steps matched by id — added,
removed, or changed field by field (a step's order among the steps both versions have counts as a field).

Pure: compares the versions' JSON documents (``plan_to_json``), so whatever a version stores is what is compared,
and a field added to the document later is diffed without touching this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.plans import Plan, plan_to_json

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
ORDER = "order"  # the pseudo-field: the step's position among the steps both versions have


@dataclass(frozen=True)
class FieldChange:
    field: str  # a dotted path into the document: "trigger.type", "message.text", "lateness.max_minutes"
    old: Any
    new: Any


@dataclass(frozen=True)
class StepChange:
    step_id: str
    change: str  # added | removed | changed
    fields: tuple[FieldChange, ...] = ()
    step: dict[str, Any] | None = None  # the step as it is in the version that has it (the new one if both do)


@dataclass(frozen=True)
class PlanDiff:
    from_version: int
    to_version: int
    plan_fields: tuple[FieldChange, ...]
    steps: tuple[StepChange, ...]  # the new version's order, then the removed steps in the old version's order
    unchanged_steps: int

    @property
    def empty(self) -> bool:
        return not self.plan_fields and not self.steps


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys; lists and scalars are leaves (a list is compared whole)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    """Every dotted field whose value differs (missing on one side: None there), in the new document's order."""
    a, b = flatten(old), flatten(new)
    keys = list(b) + [k for k in a if k not in b]
    return tuple(FieldChange(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k))


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """``old`` → ``new``: plan fields (steps aside), then each step added, removed or changed."""
    a, b = plan_to_json(old), plan_to_json(new)
    old_steps = {s["id"]: s for s in a.pop("steps")}
    new_steps = {s["id"]: s for s in b.pop("steps")}
    common_old = [i for i in old_steps if i in new_steps]
    common_new = [i for i in new_steps if i in old_steps]
    steps: list[StepChange] = []
    unchanged = 0
    for step_id, step in new_steps.items():
        if step_id not in old_steps:
            steps.append(StepChange(step_id, ADDED, step=step))
            continue
        fields = list(field_changes(old_steps[step_id], step))
        was, now = common_old.index(step_id), common_new.index(step_id)
        if was != now:
            fields.append(FieldChange(ORDER, was + 1, now + 1))
        if fields:
            steps.append(StepChange(step_id, CHANGED, tuple(fields), step))
        else:
            unchanged += 1
    steps += [StepChange(i, REMOVED, step=s) for i, s in old_steps.items() if i not in new_steps]
    return PlanDiff(old.version, new.version, field_changes(a, b), tuple(steps), unchanged)
