"""Issue 7 through the real app: a task confirmed in Siyu follows WeCom to ``sent``; enrollment refusals name their
reason; enrollments list per plan and per customer; stages that enrollment and silence set."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def run_job(api: Api, name: str) -> Any:
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return api.client.lambda_.invoke(name, event).payload


def setup_plan(api: Api, *, exits: list[dict[str, Any]] | None = None, after: int = 0) -> tuple[str, str, str]:
    """A tenant, staff zhang, a published one-step plan and a channel that does not enroll: (token, plan, state)."""
    tenant = {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}
    assert api.call("POST", "/admin/tenants", tenant, ADMIN).status_code == 201
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    body = {
        "name": "新客7天培育",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "after_minutes": after, "content_type": "service", "message": {"text": "同学你好～"}}],
        "exit": exits or [],
    }
    plan = api.call("POST", f"/t/{TENANT}/plans", body, token)
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin",
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, plan.json["plan_id"], channel.json["state"]


def test_a_task_confirmed_in_siyu_becomes_sent_when_wecom_sends_it(api: Api) -> None:
    token, plan_id, state = setup_plan(api)
    customer_id = api.scan(state)[1].json["customer_id"]
    enrolled = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": customer_id}, token)
    assert enrolled.status_code == 201, enrolled.body
    [task] = [t for t in api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"] if t["kind"] == "mass"]
    done = api.call("POST", f"/t/{TENANT}/tasks/{task['task_id']}/confirm", {}, token)
    assert done.status_code == 200 and done.json["status"] == "confirmed" and done.json["sent_at"] is None
    api.clock.advance(minutes=3)
    api.sandbox.world.confirm_task(task["msgid"], "zhang")  # 张老师 presses send in WeCom
    run_job(api, "task_sync")
    synced = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert synced["status"] == "sent" and synced["sent_at"] is not None
    assert datetime.fromisoformat(synced["sent_at"]) == datetime.fromisoformat(api.clock.iso())
    assert synced["results"]["sent"] == 1


def _order(api: Api, secret: str, customer_id: str, kind: str) -> None:
    raw = json.dumps(
        {
            "event_id": f"o-{customer_id}-{kind}",
            "type": "order",
            "customer_id": customer_id,
            "kind": kind,
            "occurred_at": api.clock.iso(seconds_ago=5),
            "amount": 9.9,
        }
    ).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "applied", resp.body


def test_refusals_name_their_reason_and_store_nothing(api: Api) -> None:
    token, plan_id, state = setup_plan(api, exits=[{"type": "order", "kind": "trial"}], after=60)
    secret = api.call("PATCH", f"/admin/tenants/{TENANT}", {"rotate_events_secret": True}, ADMIN).json["events_secret"]
    buyer, lead = (api.scan(state)[1].json["customer_id"] for _ in range(2))
    _order(api, secret, buyer, "full")  # converted: a full order also meets the trial exit
    path = f"/t/{TENANT}/plans/{plan_id}/enrollments"
    refused = api.call("POST", path, {"customer_id": buyer}, token)
    assert refused.status_code == 409, refused.body
    error = refused.json["error"]
    assert error["code"] == "excluded_by_exit_rule" and error["details"]["rule"] == "exit:order:trial"
    assert api.sandbox.world.calls("externalcontact/add_msg_template") == []  # no touch, no task
    assert api.call("POST", path, {"customer_id": lead}, token).status_code == 201
    again = api.call("POST", path, {"customer_id": lead}, token)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_enrolled"
    missing = api.call("POST", path, {"customer_id": "cnobody0000"}, token)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "customer_not_found"
    # The refusal stored nothing: the buyer has no enrollment, and when s1 falls due (60 min on) its task carries
    # the lead alone.
    assert api.call("GET", f"/t/{TENANT}/customers/{buyer}/enrollments", token=token).json["items"] == []
    api.clock.advance(minutes=61)
    assert run_job(api, "backstop")["buckets_fired"] == 1
    [sent] = api.sandbox.world.calls("externalcontact/add_msg_template")
    ids = {c: api.call("GET", f"/t/{TENANT}/customers/{c}", token=token).json["external_userid"] for c in (buyer, lead)}
    assert sent.payload["external_userid"] == [ids[lead]] and ids[buyer] != ids[lead]
    api.call("POST", f"/t/{TENANT}/plans/{plan_id}/pause", {}, token)
    paused = api.call("POST", path, {"customer_id": buyer}, token)
    assert paused.status_code == 409 and paused.json["error"]["code"] == "plan_paused"
    listed = api.call("GET", path, token=token).json
    assert [e["customer_id"] for e in listed["items"]] == [lead] and listed["next_cursor"] is None
    # Enrollment made the new lead `nurturing`; the buyer stays converted.
    stages = {c: api.call("GET", f"/t/{TENANT}/customers/{c}", token=token).json["stage"] for c in (buyer, lead)}
    assert stages == {buyer: "converted", lead: "nurturing"}


def test_enrollments_list_per_plan_and_customer_with_checked_query(api: Api) -> None:
    token, plan_id, state = setup_plan(api, after=60)
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "li", "name": "李老师"}, token)
    customers = sorted(api.scan(state)[1].json["customer_id"] for _ in range(3))
    for cid in customers:
        assert (
            api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": cid}, token).status_code == 201
        )
    path = f"/t/{TENANT}/plans/{plan_id}/enrollments"
    first = api.call("GET", f"{path}?limit=2&status=active", token=token)
    assert first.status_code == 200 and [e["customer_id"] for e in first.json["items"]] == customers[:2]
    assert first.json["items"][0]["status"] == "active" and first.json["items"][0]["plan_id"] == plan_id
    rest = api.call("GET", f"{path}?limit=2&status=active&cursor={first.json['next_cursor']}", token=token).json
    assert [e["customer_id"] for e in rest["items"]] == customers[2:]
    assert api.call("GET", f"{path}?status=exited", token=token).json["items"] == []
    for bad in ("status=paused", "cursor=bm90LWEtY3Vyc29y", "limit=0"):
        resp = api.call("GET", f"{path}?{bad}", token=token)
        assert resp.status_code == 400 and resp.json["error"]["message"], bad
    message = api.call("GET", f"{path}?status=x", token=token).json["error"]["message"]
    assert "status" in message and all(value in message for value in ("active", "completed", "exited")), message
    mine = api.call("GET", f"/t/{TENANT}/customers/{customers[0]}/enrollments", token=token).json
    assert [e["plan_id"] for e in mine["items"]] == [plan_id]
    other = api.call("GET", f"/t/{TENANT}/customers/{customers[1]}/enrollments", token=token).json
    cursor = api.call("GET", f"/t/{TENANT}/customers/{customers[0]}/enrollments?limit=1", token=token).json
    assert other["next_cursor"] is None and cursor["next_cursor"] is None
    li = api.token(TENANT, "staff", "li")  # owns nobody: sees no enrollment, and no customer
    assert api.call("GET", path, token=li).json["items"] == []
    assert api.call("GET", f"/t/{TENANT}/customers/{customers[0]}/enrollments", token=li).status_code == 404
    doc = api.call("GET", "/openapi.json").json["paths"]
    for route in (path.replace(TENANT, "{tenant_id}").replace(plan_id, "{plan_id}"),
                  "/t/{tenant_id}/customers/{customer_id}/enrollments"):  # fmt: skip
        params = {p["name"]: p["schema"] for p in doc[route]["get"]["parameters"]}
        assert params["status"] == {"enum": ["active", "completed", "exited"]} and "cursor" in params


def test_silence_makes_the_customer_silent_and_their_enrollments_show_it(api: Api) -> None:
    token, plan_id, state = setup_plan(api, after=60)
    body = {
        "name": "沉默唤醒",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "好久不见～"}}],
    }
    silent = api.call("POST", f"/t/{TENANT}/plans", body, token).json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{silent}/publish", {}, token).status_code == 200
    patched = api.call("PATCH", f"/t/{TENANT}/plans/{plan_id}", {"silence": {"days": 7, "then_plan_id": silent}}, token)
    assert patched.status_code == 200, patched.body
    customer = api.scan(state)[1].json["customer_id"]
    assert (
        api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": customer}, token).status_code
        == 201
    )
    assert api.call("GET", f"/t/{TENANT}/customers/{customer}", token=token).json["stage"] == "nurturing"
    api.clock.advance(days=7, minutes=20)
    run_job(api, "silence")
    assert api.call("GET", f"/t/{TENANT}/customers/{customer}", token=token).json["stage"] == "silent"
    listed = api.call("GET", f"/t/{TENANT}/customers/{customer}/enrollments", token=token).json["items"]
    by_plan = {e["plan_id"]: (e["status"], e["exit_reason"], e["source"]) for e in listed}
    assert by_plan == {plan_id: ("exited", "silence", "manual"), silent: ("active", None, "silence")}
    exited = api.call("GET", f"/t/{TENANT}/plans/{plan_id}/enrollments?status=exited", token=token).json["items"]
    assert [e["customer_id"] for e in exited] == [customer]


def test_an_enrollment_answers_with_the_customer_it_enrolled_not_the_kernels_subject(api: Api) -> None:
    """The response kept its shape through the subject kernel (issue 8: behaviour and the API stay as they are)."""
    token, plan_id, state = setup_plan(api, after=60)
    cid = api.scan(state)[1].json["customer_id"]
    made = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": cid}, token)
    assert made.status_code == 201, made.body
    assert list(made.json) == [
        "enrolled",
        "customer_id",
        "plan_id",
        "version",
        "enrollment_id",
        "enrolled_at",
        "status",
        "exit_reason",
        "ended_at",
        "source",
        "runs",
    ]
    assert (made.json["customer_id"], made.json["plan_id"], made.json["status"]) == (cid, plan_id, "active")
    assert made.json["source"] == "manual" and made.json["runs"] == 1 and "subject" not in made.json
