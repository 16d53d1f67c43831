"""Group plans over HTTP: the 28-day camp sample imported as a group plan, its calendar simulated for a cohort, and
groups enrolled on it; bad requests get a clear 4xx and store nothing. (Firing a group task through the sandbox
waits for its group mass messages: the kernel's firing is tested on fakes and on DynamoDB Local.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from chalicelib.bootstrap import services
from chalicelib.domain.groups import GroupSetup, GroupState
from tests.functional.conftest import TENANT, Api

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PLANS = f"/t/{TENANT}/plans"


def _group(chat_id: str, cohort_start: str | None = "2026-12-09") -> None:
    """A group as WeCom and ops describe it (written to the store: the setup API is another branch's)."""
    store = services().store
    assert store.save_group_state(TENANT, chat_id, GroupState(name=chat_id, owner="zhang"), expected_rev=0)
    setup = GroupSetup(type="study", cohort="3期", cohort_start=cohort_start)
    assert store.save_group_setup(TENANT, chat_id, setup, expected_rev=0)


def test_the_camp_imports_simulates_and_enrolls_groups(api: Api) -> None:
    token = api.create_tenant()
    raw = (SAMPLES / "28天训练营.csv").read_bytes()
    query = f"name={quote('28天训练营')}&kind=group&group_type=study"
    imported = api.call("POST", f"{PLANS}/import?{query}", raw, token, headers={"Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.body
    plan_id = imported.json["plan_id"]
    assert imported.json["kind"] == "group" and imported.json["group_audience"]["types"] == ["study"]
    assert len(imported.json["steps"]) == 31 and imported.json["steps"][0]["phase"] == "预热"
    shown = api.call("POST", f"{PLANS}/{plan_id}/simulate", {"cohort_start": "2026-12-09"}, token)
    assert shown.status_code == 200, shown.body
    assert shown.json["days"] == 28 and [p["name"] for p in shown.json["phases"]] == ["预热", "开营", "正课", "结营"]
    assert shown.json["items"][0]["at"] == "2026-12-02T10:00:00+08:00"  # day -7 of a cohort starting 12-09
    draft = api.call("POST", f"{PLANS}/{plan_id}/groups", {"chat_ids": ["wr_a"]}, token)
    assert draft.status_code == 409 and draft.json["error"]["code"] == "plan_not_published"
    assert api.call("POST", f"{PLANS}/{plan_id}/publish", {}, token).status_code == 200
    _group("wr_a")
    _group("wr_b")
    _group("wr_nodate", cohort_start=None)
    enrolled = api.call("POST", f"{PLANS}/{plan_id}/groups", {}, token)  # every group in the audience
    assert enrolled.status_code == 200, enrolled.body
    assert sorted(e["chat_id"] for e in enrolled.json["enrolled"]) == ["wr_a", "wr_b"]
    assert enrolled.json["refused"] == [{"chat_id": "wr_nodate", "reason": "no_cohort_start"}]
    assert {e["first_due_at"] for e in enrolled.json["enrolled"]} == {"2026-12-02T10:00:00+08:00"}
    listed = api.call("GET", f"{PLANS}/{plan_id}/enrollments", token=token)
    assert listed.status_code == 200, listed.body  # a group plan's listing names its groups
    assert [(e["chat_id"], e["status"]) for e in listed.json["items"]] == [("wr_a", "active"), ("wr_b", "active")]
    assert all("customer_id" not in e for e in listed.json["items"])
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "li", "name": "李老师"}, token).status_code == 201
    for userid, chats in (("zhang", ["wr_a", "wr_b"]), ("li", [])):  # staff see the groups they own
        staff = api.token(TENANT, "staff", userid)
        mine = api.call("GET", f"{PLANS}/{plan_id}/enrollments", token=staff)
        assert mine.status_code == 200 and [e["chat_id"] for e in mine.json["items"]] == chats
    customer = api.call("POST", f"{PLANS}/{plan_id}/enrollments", {"customer_id": "cabcdef0123"}, token)
    assert customer.status_code == 409 and customer.json["error"]["code"] == "plan_is_for_groups"
    edited = api.call("PATCH", f"{PLANS}/{plan_id}", {"goal": "28天冲刺，结营后报系统班"}, token)
    assert edited.status_code == 200 and edited.json["version"] == 2, edited.body
    migrate = api.call("POST", f"{PLANS}/{plan_id}/migrate", {"from_version": 1, "to_version": 2}, token)
    assert migrate.status_code == 400 and "group plan" in migrate.json["error"]["message"]


def test_bad_group_plan_requests_get_clear_errors(api: Api) -> None:
    token = api.create_tenant()
    body: dict[str, Any] = {
        "name": "客户计划",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "day": 1, "at": "20:00", "content_type": "service", "message": {"text": "好"}}],
    }
    customer = api.call("POST", PLANS, body, token)
    assert customer.status_code == 201, customer.body
    plan_id = customer.json["plan_id"]
    api.call("POST", f"{PLANS}/{plan_id}/publish", {}, token)
    refused = api.call("POST", f"{PLANS}/{plan_id}/groups", {"chat_ids": ["wr_a"]}, token)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "not_a_group_plan"
    too_many = api.call("POST", f"{PLANS}/{plan_id}/groups", {"chat_ids": [f"wr{n}" for n in range(2001)]}, token)
    assert too_many.status_code == 400
    no_start = api.call("POST", f"{PLANS}/{plan_id}/simulate", {"cohort_start": "2026-12-09"}, token)
    assert no_start.status_code == 400 and "days and cohort" in no_start.json["error"]["message"]
    group = {**body, "name": "社群计划", "kind": "group", "steps": [{**body["steps"][0], "day": -3}]}
    created = api.call("POST", PLANS, group, token)
    assert created.status_code == 201, created.body
    missing = api.call("POST", f"{PLANS}/{created.json['plan_id']}/simulate", {"days": 3, "cohort": []}, token)
    assert missing.status_code == 400
    bad_date = api.call("POST", f"{PLANS}/{created.json['plan_id']}/simulate", {"cohort_start": "2026-02-30"}, token)
    assert bad_date.status_code == 400
    negative = api.call("POST", PLANS, {**body, "name": "负数天", "steps": [{**body["steps"][0], "day": -1}]}, token)
    assert negative.status_code == 400 and negative.json["error"]["details"][0]["path"] == "/steps/0/day"
