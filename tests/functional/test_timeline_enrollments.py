"""A customer's enrollments on their timeline through the real app (moto): the enrollment item is its own start and
exit entries, so neither writes a timeline item; a re-entry keeps the run it replaces as real entries."""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def _plan(api: Api, token: str, name: str, exits: list[dict[str, Any]], reentry: str) -> str:
    body = {
        "name": name,
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "day": 1, "at": "10:00", "content_type": "service", "message": {"text": "同学你好～"}}],
        "exit": exits,
        "reentry": reentry,
    }
    plan = api.call("POST", f"/t/{TENANT}/plans", body, token)
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    return str(plan.json["plan_id"])


def _setup(api: Api) -> tuple[str, str, str, str, str]:
    """A tenant, staff zhang, a published plan that a trial order exits, another that may be re-entered at any
    time, and a channel that enrolls no one: (token, events secret, exiting plan, re-entered plan, channel state)."""
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": WECOM}, ADMIN)  # fmt: skip
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    exiting = _plan(api, token, "新客7天培育", [{"type": "order", "kind": "trial"}], "never")
    again = _plan(api, token, "直播提醒", [], "always")
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin",
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, created.json["events_secret"], exiting, again, channel.json["state"]


def _event(api: Api, secret: str, body: dict[str, Any]) -> None:
    raw = json.dumps({"occurred_at": api.clock.iso(seconds_ago=5), **body}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "applied", resp.body


def _stored_suffixes(customer_id: str) -> list[str]:
    """The suffixes of the timeline items stored in the customer's partition (``F#<t>#<suffix>``), oldest first."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    resp = ddb.query(
        TableName="siyu-functional",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :f)",
        ExpressionAttributeValues={":pk": {"S": f"T#{TENANT}#C#{customer_id}"}, ":f": {"S": "F#"}},
    )
    return [item["sk"]["S"].split("#", 2)[2] for item in resp["Items"]]


def _enrollment_entries(api: Api, token: str, customer_id: str) -> list[dict[str, Any]]:
    entries = api.call("GET", f"/t/{TENANT}/customers/{customer_id}/timeline?limit=50", token=token).json["items"]
    return [e for e in entries if e["type"] in ("enrolled", "enrollment_ended")]


def test_an_enrollment_and_its_exit_write_no_timeline_item_and_a_reentry_keeps_the_run_it_replaces(api: Api) -> None:
    token, secret, exiting, again, state = _setup(api)
    cid = api.scan(state)[1].json["customer_id"]
    api.clock.advance(seconds=30)
    assert api.call("POST", f"/t/{TENANT}/plans/{exiting}/enrollments", {"customer_id": cid}, token).status_code == 201
    [started] = _enrollment_entries(api, token, cid)
    first = started["detail"]["enrollment_id"]
    assert started["detail"] == {"plan_id": exiting, "version": 1, "enrollment_id": first, "source": "manual"}
    assert not [s for s in _stored_suffixes(cid) if s.startswith(("enr.", "end."))]  # the enrollment item is it
    api.clock.advance(minutes=5)
    _event(api, secret, {"event_id": "o-1", "type": "order", "customer_id": cid, "kind": "trial", "amount": 9.9})
    ended, same = _enrollment_entries(api, token, cid)
    assert same == started and ended["type"] == "enrollment_ended"
    assert ended["detail"] == {"plan_id": exiting, "version": 1, "enrollment_id": first, "status": "exited",
                               "reason": "exit:order:trial"}  # fmt: skip
    assert not [s for s in _stored_suffixes(cid) if s.startswith(("enr.", "end."))]  # nor is the exit written
    path = f"/t/{TENANT}/plans/{again}/enrollments"
    api.clock.advance(minutes=5)
    assert api.call("POST", path, {"customer_id": cid}, token).status_code == 201
    api.clock.advance(minutes=5)
    assert api.call("POST", path, {"customer_id": cid}, token).status_code == 201  # re-entry: replaces that run
    entries = _enrollment_entries(api, token, cid)
    assert [(e["type"], e["detail"]["plan_id"]) for e in entries] == [
        ("enrolled", again),
        ("enrolled", again),  # the replaced run, kept
        ("enrollment_ended", exiting),
        ("enrolled", exiting),
    ]
    replaced = entries[1]["detail"]["enrollment_id"]
    assert replaced != entries[0]["detail"]["enrollment_id"] and entries[2:] == [ended, started]
    assert [s for s in _stored_suffixes(cid) if s.startswith(("enr.", "end."))] == [f"enr.{replaced}"]
