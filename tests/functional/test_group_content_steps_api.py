"""A group plan whose steps send group content by id, over HTTP against the WeCom sandbox: the piece is created,
named by the plan's steps, and each fire sends it as it is then (an edit reaches the next fire; a deletion fails
that day's touch as ``content_deleted`` and the calendar goes on). A step naming a piece that does not exist is a
400 that says so, and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import TENANT, Api
from tests.functional.group_sandbox import GroupSandbox, group_sandbox
from tests.functional.test_sop_answers import run_job

PLANS = f"/t/{TENANT}/plans"
CONTENT = f"/t/{TENANT}/group-content"


@pytest.fixture
def wecom(api: Api, monkeypatch: pytest.MonkeyPatch) -> GroupSandbox:
    return group_sandbox(api, monkeypatch)


def _step(sid: str, day: int, message: dict[str, Any]) -> dict[str, Any]:
    return {"id": sid, "day": day, "at": "10:30", "content_type": "announcement", "message": message}


def _sent_texts(api: Api) -> list[str]:
    """The texts of the group messages WeCom took (not a call refused for an expired token, then made again)."""
    calls = api.sandbox.world.calls("externalcontact/add_msg_template")
    return [c.payload["text"]["content"] for c in calls if c.errcode == 0]


def test_a_group_plan_sends_the_content_as_it_is_at_each_fire(api: Api, wecom: GroupSandbox) -> None:
    token = api.create_tenant()
    wecom.register()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    chat = wecom.change(change="create", owner="zhang", name="示例教育·考研数学·3期·01")["chat_id"]
    setup = {"rev": 0, "type": "study", "cohort": "3期", "cohort_start": "2026-12-01"}  # day 0 is today
    assert api.call("PUT", f"/t/{TENANT}/groups/{chat}/setup", setup, token).status_code == 200
    piece = {"kind": "rules", "title": "学习群群规", "message": {"text": "群规 v1"}, "notes": "开营当天发"}
    created = api.call("POST", CONTENT, piece, token)
    assert created.status_code == 201, created.body
    rules = created.json["content_id"]
    plan: dict[str, Any] = {
        "name": "群规三天",
        "kind": "group",
        "trigger": {"type": "manual"},
        "group_audience": {"types": ["study"]},
        "steps": [_step("d0", 0, {"content_id": "gct_nosuchpiece"})],
    }
    unknown = api.call("POST", PLANS, plan, token)
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "content_not_found", unknown.body
    assert unknown.json["error"]["details"][0]["path"] == "/steps/0/message/content_id"
    assert api.call("GET", PLANS, token=token).json["items"] == []  # nothing stored
    plan["steps"] = [_step("d0", 0, {"content_id": rules}), _step("d1", 1, {"content_id": rules})]
    saved = api.call("POST", PLANS, plan, token)
    assert saved.status_code == 201, saved.body
    assert saved.json["steps"][0]["message"] == {"content_id": rules}
    plan_id = saved.json["plan_id"]
    assert api.call("POST", f"{PLANS}/{plan_id}/publish", {}, token).status_code == 200
    shown = api.call("POST", f"{PLANS}/{plan_id}/simulate", {"cohort_start": "2026-12-01"}, token).json
    assert (shown["items"][0]["title"], shown["items"][0]["content"]["text"]) == ("学习群群规", "群规 v1")
    enrolled = api.call("POST", f"{PLANS}/{plan_id}/groups", {}, token)
    assert [e["chat_id"] for e in enrolled.json["enrolled"]] == [chat], enrolled.body

    api.clock.advance(minutes=31)  # day 0, 10:31
    assert run_job(api, "backstop")["buckets_fired"] == 1
    assert _sent_texts(api) == ["群规 v1"]
    [task] = api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"]
    assert (task["text"], task["notes"], task["chat_ids"]) == ("群规 v1", "开营当天发", [chat])

    edit = {"rev": created.json["rev"], "message": {"text": "群规 v2：21:00 前打卡"}}
    assert api.call("PATCH", f"{CONTENT}/{rules}", edit, token).status_code == 200
    api.clock.advance(days=1)  # day 1, 10:31: the edit reaches this fire
    assert run_job(api, "backstop")["buckets_fired"] == 1
    assert _sent_texts(api) == ["群规 v1", "群规 v2：21:00 前打卡"]
    listed = api.call("GET", f"{PLANS}/{plan_id}/enrollments", token=token).json["items"]
    assert [e["status"] for e in listed] == ["completed"]


def test_a_piece_deleted_after_publish_fails_that_days_touch_by_name(api: Api, wecom: GroupSandbox) -> None:
    token = api.create_tenant()
    wecom.register()
    chat = wecom.change(change="create", owner="zhang", name="示例教育·考研数学·3期·02")["chat_id"]
    setup = {"rev": 0, "type": "study", "cohort": "3期", "cohort_start": "2026-12-01"}
    assert api.call("PUT", f"/t/{TENANT}/groups/{chat}/setup", setup, token).status_code == 200
    piece = {"kind": "announcement", "title": "开营公告", "message": {"text": "今晚 8 点开营"}}
    content_id = api.call("POST", CONTENT, piece, token).json["content_id"]
    plan = {
        "name": "开营公告",
        "kind": "group",
        "trigger": {"type": "manual"},
        "group_audience": {"chat_ids": [chat]},
        "steps": [_step("d0", 0, {"content_id": content_id}), _step("d1", 1, {"text": "第2天"})],
    }
    plan_id = api.call("POST", PLANS, plan, token).json["plan_id"]
    assert api.call("POST", f"{PLANS}/{plan_id}/publish", {}, token).status_code == 200
    assert api.call("POST", f"{PLANS}/{plan_id}/groups", {}, token).status_code == 200
    assert api.call("DELETE", f"{CONTENT}/{content_id}", token=token).status_code == 204
    gone = api.call("POST", f"{PLANS}/{plan_id}/simulate", {"cohort_start": "2026-12-01"}, token).json
    assert gone["items"][0]["content"] == {"content_id": content_id, "deleted": True}
    api.clock.advance(minutes=31)
    assert run_job(api, "backstop")["buckets_fired"] == 1
    assert _sent_texts(api) == []  # nothing reached WeCom
    [task] = api.call("GET", f"/t/{TENANT}/tasks?status=failed", token=token).json["items"]
    assert (task["status"], task["reason"], task["chat_ids"]) == ("failed", "content_deleted", [chat])
    api.clock.advance(days=1)
    assert run_job(api, "backstop")["buckets_fired"] == 1
    assert _sent_texts(api) == ["第2天"]
