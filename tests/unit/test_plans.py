"""Plans against the in-memory store: the JSON document, validation that lists everything, lifecycle, versions."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import schemas
from chalicelib.domain.plan_documents import plan_from_json
from chalicelib.domain.plans import PlanStatus, plan_to_json
from chalicelib.domain.tags import Tag, TagGroup
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from tests.unit.conftest import Env, make_channel

ISSUE_EXAMPLE = """
{"name": "新客7天培育", "trigger": {"type": "channel", "channel_id": "ch_x"},
 "audience": {"tags_all": [], "tags_any": [], "tags_none": ["已报名"]},
 "steps": [
   {"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "…"}, "notes": "破冰话术…"},
   {"id": "s2", "day": 1, "at": "20:00", "content_type": "marketing", "message": {"text": "…", "attachments": []},
    "executor": "owner", "lateness": {"max_minutes": 60, "then": "next_slot"}}],
 "exit": [{"type": "order", "kind": "trial"}], "silence": {"days": 7, "then_plan_id": "pl_silent"},
 "reentry": "never", "priority": 10}
"""


def _doc(**over: Any) -> dict[str, Any]:
    """A valid manual plan: a welcome after 5 minutes, 每日一练 on day 1, marketing in the evening."""
    doc: dict[str, Any] = {
        "name": "新客7天培育",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "同学你好～"}},
            {"id": "s2", "day": 1, "at": "09:00", "content_type": "interactive", "message": {"text": "每日一练"}},
            {
                "id": "s3",
                "day": 1,
                "at": "20:00",
                "content_type": "marketing",
                "message": {
                    "text": "9.9元体验",
                    "attachments": [{"msgtype": "link", "link": {"title": "t", "url": "u"}}],
                },
                "executor": "zhang",
                "notes": "问价立即1对1",
                "lateness": {"max_minutes": 30, "then": "skip"},
                "on_cap": "drop",
            },
        ],
    }
    doc.update(over)
    return doc


def _enrolled_tag(env: Env) -> str:
    env.store.put_tag_group("unit", TagGroup("tg_enrol", "报名状态", True, (Tag("t_enrolled0001", "已报名"),)))
    return "t_enrolled0001"


def _details(exc: pytest.ExceptionInfo[InvalidError]) -> dict[str, str]:
    return {d["path"]: d["message"] for d in exc.value.details}


# --- the JSON document ------------------------------------------------------------------------------------------


def test_issue_example_is_valid_and_round_trips() -> None:
    data = json.loads(ISSUE_EXAMPLE)
    assert schemas.validate("plan", data) is data
    plan = plan_from_json(data)
    assert [s.id for s in plan.steps] == ["s1", "s2"] and plan.steps[0].executor == "owner"
    assert plan.steps[1].day == 1 and plan.steps[1].at == "20:00" and plan.silence and plan.silence.days == 7
    again = plan_to_json(plan)
    assert plan_from_json(again) == plan and schemas.validate("plan", again) is again


def test_schema_rejects_both_or_neither_timing_form() -> None:
    both = _doc(steps=[{"id": "s1", "after_minutes": 5, "day": 1, "at": "09:00", "content_type": "service"}])
    with pytest.raises(InvalidError) as exc:
        schemas.validate("plan", both)
    assert "/steps/0" in _details(exc)
    half = _doc(steps=[{"id": "s1", "day": 1, "content_type": "service", "message": {"text": "x"}}])
    with pytest.raises(InvalidError):
        schemas.validate("plan", half)
    bad = _doc(trigger={"type": "channel"}, reentry="sometimes", priority=-1)
    with pytest.raises(InvalidError) as exc:
        schemas.validate("plan", bad)
    assert {"/trigger", "/reentry", "/priority"} <= set(_details(exc))


def test_update_schema_has_the_same_fields_as_the_plan_schema() -> None:
    """Two files (schemas can only share defs.schema.json): this keeps them from drifting apart."""
    assert schemas.schema("plan_update")["properties"] == schemas.schema("plan")["properties"]
    assert "required" not in schemas.schema("plan_update")


def test_document_problems_are_all_reported_with_paths() -> None:
    steps = [
        {"id": "a", "day": 2, "at": "09:00", "content_type": "service", "message": {"text": ""}},
        {"id": "a", "day": 1, "at": "09:00", "content_type": "service", "message": {"text": "好" * 1400}},
    ]
    with pytest.raises(InvalidError) as exc:
        plan_from_json(_doc(steps=steps))
    details = _details(exc)
    assert "needs message text" in details["/steps/0/message"]
    assert "4200 bytes" in details["/steps/1/message/text"]
    assert "already used" in details["/steps/1/id"]
    assert "list order" in details["/steps/1"]  # day 1 after day 2: the engine runs steps in list order


# --- create and validate against the tenant ---------------------------------------------------------------------


def test_create_is_a_draft_at_version_1_with_tag_names_resolved(env: Env) -> None:
    tag = _enrolled_tag(env)
    ch = make_channel(env)
    plan = env.svc.plans.create(
        env.tenant,
        _doc(trigger={"type": "channel", "channel_id": ch.channel_id}, audience={"tags_none": ["已报名"]}),
    )
    assert plan.status == PlanStatus.DRAFT and plan.version == 1 and plan.plan_id.startswith("pl_")
    assert plan.audience.tags_none == (tag,)  # stored as the id customers carry
    assert plan.created_at.endswith("+08:00")  # tenant-local timestamps
    assert env.svc.plans.get("unit", plan.plan_id) == plan
    public = plan.public()
    assert public["status"] == "draft" and public["current_version"] == 1 and public["published_at"] is None
    assert schemas.validate("plan", public) is public  # what GET returns can be sent back


def test_validation_lists_every_problem_at_once(env: Env) -> None:
    env.svc.staff.update("unit", "li", {"active": False})
    doc = _doc(
        trigger={"type": "channel", "channel_id": "ch_missing"},
        audience={"tags_any": ["不存在的标签"], "channels": ["ch_gone"]},
        exit=[{"type": "tag", "tag_id": "t_nope0000"}],
        silence={"days": 7, "then_plan_id": "pl_missing"},
    )
    doc["steps"][0]["executor"] = "ghost"
    doc["steps"][1]["executor"] = "li"
    doc["steps"][2]["message"]["text"] = "好" * 1400
    doc["steps"].append({"id": "s3", "day": 2, "at": "09:00", "content_type": "content", "message": {"text": "x"}})
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.create(env.tenant, doc)
    details = _details(exc)
    assert "ghost" in details["/steps/0/executor"] and "inactive" in details["/steps/1/executor"]
    assert "already used" in details["/steps/3/id"]
    assert "ch_missing" in details["/trigger/channel_id"] and "ch_gone" in details["/audience/channels/0"]
    assert "不存在的标签" in details["/audience/tags_any/0"] and "t_nope0000" in details["/exit/0/tag_id"]
    assert "pl_missing" in details["/silence/then_plan_id"]
    assert "4200 bytes" in details["/steps/2/message/text"] and len(details) == 9
    assert env.store.plan_heads == {}  # nothing stored


def test_a_broken_shape_stops_before_anything_else(env: Env) -> None:
    """A document that fails the schema is not read further (its ids and types may be anything)."""
    doc = _doc(priority="high")
    doc["steps"][0]["executor"] = "ghost"
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.create(env.tenant, doc)
    assert list(_details(exc)) == ["/priority"]


def test_ambiguous_tag_name_asks_for_the_id(env: Env) -> None:
    env.store.put_tag_group("unit", TagGroup("tg_a", "A", False, (Tag("t_a00001", "高"),)))
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.create(env.tenant, _doc(audience={"tags_all": ["高"]}))
    assert "several groups" in _details(exc)["/audience/tags_all/0"]


def test_silence_hand_off_targets(env: Env) -> None:
    silent = env.svc.plans.create(env.tenant, _doc(name="沉默客户唤醒"))
    plan = env.svc.plans.create(env.tenant, _doc(silence={"days": 7, "then_plan_id": silent.plan_id}))
    assert plan.silence is not None and plan.silence.then_plan_id == silent.plan_id
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.update(env.tenant, plan.plan_id, {"silence": {"days": 3, "then_plan_id": plan.plan_id}})
    assert "itself" in _details(exc)["/silence/then_plan_id"]
    env.svc.plans.archive(env.tenant, silent.plan_id)
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.create(env.tenant, _doc(silence={"days": 7, "then_plan_id": silent.plan_id}))
    assert "archived" in _details(exc)["/silence/then_plan_id"]


# --- versions and lifecycle -------------------------------------------------------------------------------------


def test_a_draft_is_edited_in_place(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())
    env.clock.advance(minutes=1)
    edited = env.svc.plans.update(env.tenant, plan.plan_id, {"name": "新客培育（改）", "priority": 5})
    assert edited.version == 1 and edited.name == "新客培育（改）" and edited.priority == 5
    assert edited.rev == plan.rev + 1 and edited.updated_at > plan.updated_at
    assert [v.version for v in env.svc.plans.versions("unit", plan.plan_id)] == [1]


def test_editing_a_published_plan_creates_a_new_version_and_old_ones_stay_readable(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())
    v1 = env.svc.plans.publish(env.tenant, plan.plan_id)
    assert v1.status == PlanStatus.PUBLISHED and v1.published_at
    steps = _doc()["steps"]
    steps[0]["message"]["text"] = "新版欢迎语"
    v2 = env.svc.plans.update(env.tenant, plan.plan_id, {"steps": steps})
    assert (v2.version, v2.status, v2.current_version) == (2, PlanStatus.PUBLISHED, 2) and v2.published_at
    assert env.svc.plans.current_plan("unit", plan.plan_id) == v2  # new enrollments start on v2
    pinned = env.svc.plans.plan_version("unit", plan.plan_id, 1)  # enrollments on v1 still read v1
    assert pinned is not None and pinned.steps[0].message.text == "同学你好～"
    assert pinned.current_version == 2 and pinned.status == PlanStatus.PUBLISHED
    env.svc.plans.pause(env.tenant, plan.plan_id)
    paused_v1 = env.svc.plans.plan_version("unit", plan.plan_id, 1)
    assert paused_v1 is not None and paused_v1.status == PlanStatus.PAUSED  # a pause stops every version
    versions = env.svc.plans.versions("unit", plan.plan_id)
    assert [(v.version, bool(v.published_at)) for v in versions] == [(1, True), (2, True)]
    with pytest.raises(NotFoundError):
        env.svc.plans.get("unit", plan.plan_id, 3)


def test_an_unchanged_edit_writes_nothing(env: Env) -> None:
    plan = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, _doc()).plan_id)
    same = env.svc.plans.update(env.tenant, plan.plan_id, {"name": plan.name, "steps": _doc()["steps"]})
    assert same == plan and [v.version for v in env.svc.plans.versions("unit", plan.plan_id)] == [1]


def test_an_edit_based_on_an_old_version_is_a_conflict(env: Env) -> None:
    plan = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, _doc()).plan_id)
    env.svc.plans.update(env.tenant, plan.plan_id, {"name": "v2", "version": 1})
    with pytest.raises(ConflictError, match="version 2"):
        env.svc.plans.update(env.tenant, plan.plan_id, {"name": "v3", "version": 1})


def test_edits_while_paused_wait_for_resume(env: Env) -> None:
    plan = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, _doc()).plan_id)
    env.svc.plans.pause(env.tenant, plan.plan_id)
    v2 = env.svc.plans.update(env.tenant, plan.plan_id, {"name": "暂停中修改"})
    assert (v2.version, v2.status, v2.published_at) == (2, PlanStatus.PAUSED, "")
    again = env.svc.plans.update(env.tenant, plan.plan_id, {"priority": 3})
    assert again.version == 2  # v2 never went live: edited in place
    resumed = env.svc.plans.resume(env.tenant, plan.plan_id)
    assert resumed.status == PlanStatus.PUBLISHED and resumed.version == 2 and resumed.published_at
    assert [v.version for v in env.svc.plans.versions("unit", plan.plan_id)] == [1, 2]


def test_published_versions_are_every_version_of_the_published_plans(env: Env) -> None:
    """What a large fire bounds the daily cap's priority contest by: drafts and paused plans are no rivals."""
    live = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, _doc()).plan_id)
    env.svc.plans.update(env.tenant, live.plan_id, {"priority": 7, "version": 1})
    env.svc.plans.publish(env.tenant, live.plan_id)
    env.svc.plans.create(env.tenant, {**_doc(), "name": "草稿"})
    paused = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, {**_doc(), "name": "暂停"}).plan_id)
    env.svc.plans.pause(env.tenant, paused.plan_id)
    found = env.svc.plans.published_versions("unit")
    assert sorted((p.plan_id, p.version, p.priority, p.status) for p in found) == [
        (live.plan_id, 1, live.priority, PlanStatus.PUBLISHED),
        (live.plan_id, 2, 7, PlanStatus.PUBLISHED),
    ]


def test_lifecycle_transitions_and_their_conflicts(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())
    for action in ("pause", "resume"):
        with pytest.raises(ConflictError, match="publish it first"):
            getattr(env.svc.plans, action)(env.tenant, plan.plan_id)
    published = env.svc.plans.publish(env.tenant, plan.plan_id)
    assert env.svc.plans.publish(env.tenant, plan.plan_id) == published  # repeating is harmless
    paused = env.svc.plans.pause(env.tenant, plan.plan_id)
    assert paused.status == PlanStatus.PAUSED and paused.published_at == published.published_at
    with pytest.raises(ConflictError, match="resume it"):
        env.svc.plans.publish(env.tenant, plan.plan_id)
    assert env.svc.plans.resume(env.tenant, plan.plan_id).status == PlanStatus.PUBLISHED
    archived = env.svc.plans.archive(env.tenant, plan.plan_id)
    assert archived.status == PlanStatus.ARCHIVED and env.svc.plans.archive(env.tenant, plan.plan_id) == archived
    for action in ("publish", "pause", "resume"):
        with pytest.raises(ConflictError, match="archived, which is final"):
            getattr(env.svc.plans, action)(env.tenant, plan.plan_id)
    with pytest.raises(ConflictError, match="archived"):
        env.svc.plans.update(env.tenant, plan.plan_id, {"name": "x"})
    assert env.svc.plans.get("unit", plan.plan_id, 1).status == PlanStatus.ARCHIVED  # still readable


def test_publishing_rechecks_references(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())  # s3 is executed by zhang
    env.svc.staff.update("unit", "zhang", {"active": False})
    with pytest.raises(InvalidError) as exc:
        env.svc.plans.publish(env.tenant, plan.plan_id)
    assert "zhang" in _details(exc)["/steps/2/executor"] and "cannot go live" in exc.value.message
    assert env.svc.plans.get("unit", plan.plan_id).status == PlanStatus.DRAFT


def test_concurrent_publishes_write_once(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def publish() -> None:
        barrier.wait()
        results.append(env.svc.plans.publish(env.tenant, plan.plan_id))

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and {r.status for r in results} == {PlanStatus.PUBLISHED}
    assert env.svc.plans.get("unit", plan.plan_id).rev == plan.rev + 1  # exactly one write won


def test_stale_writes_lose(env: Env) -> None:
    plan = env.svc.plans.create(env.tenant, _doc())
    env.svc.plans.update(env.tenant, plan.plan_id, {"name": "先到"})
    with pytest.raises(ConflictError):
        env.store.save_plan(
            "unit", replace(plan, name="后到", rev=plan.rev + 1), expected_rev=plan.rev, write_version=True
        )
    published = env.svc.plans.publish(env.tenant, plan.plan_id)
    with pytest.raises(ConflictError):  # a published version is immutable, whatever the rev says
        env.store.save_plan(
            "unit",
            replace(published, name="改写", rev=published.rev + 1),
            expected_rev=published.rev,
            write_version=True,
        )


def test_listing_filters_by_status_and_pages(env: Env) -> None:
    made = [env.svc.plans.create(env.tenant, _doc(name=f"计划{i}")) for i in range(5)]
    for p in made[:2]:
        env.svc.plans.publish(env.tenant, p.plan_id)
    seen, cursor = [], None
    while True:
        page = env.svc.plans.find("unit", status=None, cursor=cursor, limit=2)
        seen += [p.plan_id for p in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == sorted(p.plan_id for p in made)
    published = env.svc.plans.find("unit", status="published", cursor=None, limit=10).items
    assert {p.plan_id for p in published} == {made[0].plan_id, made[1].plan_id}
    with pytest.raises(InvalidError):
        env.svc.plans.find("unit", status="live", cursor=None, limit=10)
    assert env.svc.plans.find("other", status=None, cursor=None, limit=10).items == []


def test_missing_plans_are_not_found(env: Env) -> None:
    with pytest.raises(NotFoundError):
        env.svc.plans.get("unit", "pl_missing")
    with pytest.raises(NotFoundError):
        env.svc.plans.versions("unit", "pl_missing")
    with pytest.raises(NotFoundError):
        env.svc.plans.update(env.tenant, "pl_missing", {"name": "x"})
    assert env.svc.plans.current_plan("unit", "pl_missing") is None


def test_sample_csv_and_xlsx_describe_the_same_plan(env: Env) -> None:
    samples = Path(__file__).resolve().parents[2] / "samples"
    csv_plan, _ = env.svc.plans.import_sheet(
        env.tenant, (samples / "新客7天培育.csv").read_bytes(), "text/csv", {"name": "新客7天培育"}
    )
    xlsx_plan, _ = env.svc.plans.import_sheet(
        env.tenant,
        (samples / "新客7天培育.xlsx").read_bytes(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        {"name": "新客7天培育", "on_conflict": "new_version"},  # plan names are unique: the same plan, re-imported
    )
    assert plan_to_json(csv_plan) == plan_to_json(xlsx_plan)
    assert (xlsx_plan.plan_id, xlsx_plan.version, xlsx_plan.rev) == (csv_plan.plan_id, 1, csv_plan.rev)  # no change
