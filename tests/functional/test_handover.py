"""客户交接 end to end through the real app and the sandbox: a customer with an active plan, a queued touch and an
open task of the old owner is previewed, handed over, waits WeCom's 24 h, and comes out owned by the new owner with
the old task no longer carrying them (reissued, no double send), the next touch a task of the new owner and the
enrollment still running. Also: a refusal told twice, and bad input stored nowhere."""

from __future__ import annotations

from typing import Any

from chalicelib.bootstrap import services
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

H = "/t/" + TENANT + "/handovers"


def _setup(api: Api) -> tuple[str, str]:
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": WECOM}, ADMIN)  # fmt: skip
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    plan = api.call(
        "POST",
        f"/t/{TENANT}/plans",
        {
            "name": "新客培育",
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "资料包发你～"}},
                {"id": "s2", "day": 2, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
            ],
        },
        token,
    )
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin", "plan_id": plan_id,
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, channel.json["state"]


def _backstop(api: Api) -> Any:
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return api.client.lambda_.invoke("backstop", event)


def _tasks(api: Api, token: str, userid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.call("GET", f"/t/{TENANT}/tasks?userid={userid}", token=token).json["items"]
    return items


def test_a_customer_with_an_active_plan_and_an_open_task_is_handed_over(api: Api) -> None:
    token, state = _setup(api)
    fields, resp = api.scan(state)
    cid, ext = resp.json["customer_id"], fields["ExternalUserID"]
    [old_task] = [t for t in _tasks(api, token, "zhang") if t["kind"] == "mass"]  # s1: zhang has not sent it yet
    assert old_task["status"] == "created" and [c["customer_id"] for c in old_task["customers"]] == [cid]
    body = {"handover_userid": "zhang", "takeover_userid": "li", "success_msg": "您好，之后由李老师为您服务"}

    preview = api.call("POST", H, {**body, "dry_run": True}, token)
    assert preview.status_code == 200, preview.body
    assert (preview.json["customers"], preview.json["active_enrollments"], preview.json["queued_touches"]) == (1, 1, 1)
    assert (preview.json["open_tasks"], preview.json["skipped"]) == (1, {})
    assert api.sandbox.world.calls("externalcontact/transfer_customer") == []  # a dry run calls nobody

    started = api.call("POST", H, body, token)
    assert started.status_code == 200, started.body
    job_id = started.json["job_id"]
    assert started.json["counts"] == {"waiting": 1} and started.json["customers"][0]["state_label"] == "等待接替"
    [call] = api.sandbox.world.calls("externalcontact/transfer_customer")
    assert call.payload["external_userid"] == [ext]
    assert api.call("GET", f"{H}/{job_id}", token=token).json["status"] == "running"

    # WeCom's 24 h pass: WeCom tells the old relation's end, and the backstop's poll finds the takeover.
    api.clock.advance(hours=24, seconds=1)
    for told in api.sandbox.world.transfer_callbacks(CORP):
        assert api.callback(TENANT, told).status_code == 200
    _backstop(api)
    job = api.call("GET", f"{H}/{job_id}", token=token).json
    assert job["status"] == "done" and job["counts"] == {"taken_over": 1}
    customer = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    assert customer["owner_userid"] == "li"

    # The old task no longer carries the customer; the new owner got it reissued, once.
    old = api.call("GET", f"/t/{TENANT}/tasks/{old_task['task_id']}", token=token).json
    assert old["customers"] == []
    reissued = _tasks(api, token, "li")
    assert [(t["kind"], [c["customer_id"] for c in t["customers"]]) for t in reissued] == [("follow_up", [cid])]
    message = (
        "text",
        "notes",
        "plan_id",
        "step_id",
        "bucket_id",
    )  # the whole message: the step's attachments come with its ids
    assert [{k: t[k] for k in message} for t in reissued] == [{k: old_task[k] for k in message}]
    # zhang confirming the old WeCom task now reaches nobody: WeCom ended their relation (no double send).
    counts = api.sandbox.world.confirm_task(old_task["msgid"], "zhang")
    assert counts == {"sent": 0, "not_friend": 1, "limit_hit": 0}

    # The enrollment runs on; its next touch (day 2, 10:00) goes to li.
    enrollments = api.call("GET", f"/t/{TENANT}/customers/{cid}/enrollments", token=token).json["items"]
    assert [e["status"] for e in enrollments] == ["active"]
    api.clock.advance(hours=24)
    _backstop(api)
    sent = api.sandbox.world.calls("externalcontact/add_msg_template")
    senders = [c.payload["sender"] for c in sent if c.errcode == 0]  # not the call a day-old token refused
    assert senders == ["zhang", "li"]
    timeline = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline", token=token).json
    assert "handover" in str(timeline)


def test_a_refusal_told_twice_leaves_the_customer_with_the_old_owner_once(api: Api) -> None:
    token, state = _setup(api)
    fields, resp = api.scan(state)
    cid = resp.json["customer_id"]
    job_id = api.call("POST", H, {"handover_userid": "zhang", "takeover_userid": "li"}, token).json["job_id"]
    [told] = api.sandbox.world.refuse_transfer(CORP, fields["ExternalUserID"])
    assert api.callback(TENANT, told).status_code == 200
    assert api.callback(TENANT, told).status_code == 200  # WeCom retries: a duplicate
    job = api.call("GET", f"{H}/{job_id}", token=token).json
    assert job["status"] == "done" and job["counts"] == {"refused": 1}
    assert job["customers"][0]["state_label"] == "客户拒绝"
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json["owner_userid"] == "zhang"
    timeline = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline", token=token).json
    assert str(timeline).count("'refused'") == 1


def test_bad_input_is_refused_and_nothing_is_stored(api: Api) -> None:
    token, state = _setup(api)
    api.scan(state)
    for body in (
        {"handover_userid": "zhang"},
        {"handover_userid": "zhang", "takeover_userid": "zhang"},
        {"handover_userid": "zhang", "takeover_userid": "li", "filter": {"owner": "wang"}},
        {"handover_userid": "zhang", "takeover_userid": "li", "mode": "fired"},
        {"handover_userid": "zhang", "takeover_userid": "li", "filter": {"added_from": "yesterday"}},
        {"handover_userid": "zhang", "takeover_userid": "li", "success_msg": "好" * 201},
    ):
        resp = api.call("POST", H, body, token)
        assert resp.status_code == 400, (body, resp.body)
        assert {"code", "message"} <= set(resp.json["error"])
    for body, field in (  # staff a hand-over cannot name: refused by the preview and the start alike
        ({"handover_userid": "ghost", "takeover_userid": "li"}, "handover_userid"),
        ({"handover_userid": "zhang", "takeover_userid": "ghost"}, "takeover_userid"),
        ({"handover_userid": "ghost", "takeover_userid": "li", "mode": "resigned"}, "handover_userid"),
        ({"handover_userid": "zhang", "takeover_userid": "zhang"}, "takeover_userid"),
    ):
        for dry_run in (True, False):
            resp = api.call("POST", H, {**body, "dry_run": dry_run}, token)
            assert resp.status_code == 400, (body, resp.body)
            assert resp.json["error"]["code"] == "invalid" and field in resp.json["error"]["message"]
    assert api.call("PATCH", f"/t/{TENANT}/staff/li", {"active": False}, token).status_code == 200
    paused = api.call("POST", H, {"handover_userid": "zhang", "takeover_userid": "li"}, token)
    assert paused.status_code == 400 and "takeover_userid" in paused.json["error"]["message"]
    assert [j for j in services().store.running_jobs(TENANT) if j["kind"] == "handover"] == []  # nothing stored
    assert api.sandbox.world.calls("externalcontact/transfer_customer") == []
    assert api.call("GET", f"{H}/ho_missing", token=token).status_code == 404
    viewer = api.token(TENANT, "viewer")
    assert api.call("POST", H, {"handover_userid": "zhang", "takeover_userid": "li"}, viewer).status_code == 403
