"""Outbound webhooks through the real app (chalice.test.Client, moto, the WeCom sandbox) to a real receiver on
127.0.0.1 (tests/webhook_receiver.py): a WeCom add callback answers without calling the receiver, the scheduled
sender delivers it signed, a retried callback makes one delivery, and dead letters replay once from the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.bootstrap import services
from chalicelib.domain.business_events import sign
from chalicelib.jobs import sop as sop_jobs
from tests.functional.conftest import ADMIN, TENANT, Api
from tests.webhook_receiver import Receiver, running

EVENTS = ["customer.added", "customer.stage_changed", "order.recorded"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running() as rec:
        yield rec


def setup(api: Api, receiver: Receiver, **body: Any) -> tuple[str, dict[str, Any]]:
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    made = api.call("POST", f"/t/{TENANT}/webhooks", {"url": receiver.url, "events": EVENTS, **body}, token)
    assert made.status_code == 201, made.body
    receiver.secret = made.json["secret"]
    return token, made.json


def scan(api: Api, token: str, name: str = "李妈妈") -> tuple[dict[str, Any], Any]:
    channel = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}}
    state = api.call("POST", f"/t/{TENANT}/channels", channel, token).json["state"]
    return api.scan(state, name=name)


def send() -> dict[str, Any]:
    """What the one-shot schedule's fire does (and the backstop)."""
    return sop_jobs.fire({"tenant_id": TENANT, "webhooks": 1})


def test_an_add_callback_is_delivered_signed_by_the_scheduled_sender(api: Api, receiver: Receiver) -> None:
    token, hook = setup(api, receiver)
    assert hook["secret"].startswith("whsec_") and hook["status"] == "active" and hook["pii"] == []
    listed = api.call("GET", f"/t/{TENANT}/webhooks", None, api.token(TENANT, "ops"))
    assert listed.status_code == 200 and "secret" not in listed.json["items"][0]
    receiver.delay_seconds = 1.0  # a slow receiver: the callback must not wait for it
    fields, scanned = scan(api, token)
    assert scanned.status_code == 200
    assert receiver.got == []  # the callback answered without calling out
    names = [s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName="siyu-functional")["Schedules"]]
    assert any(n.startswith(f"siyu-wh-{TENANT}-") for n in names)  # the sender's one-shot run, next minute
    api.clock.advance(minutes=1)
    assert send()["delivered"] == 1
    [got] = receiver.got
    assert got.signature_ok and got.event == "customer.added"
    assert got.body["subject"] == {"customer_id": scanned.json["customer_id"]}
    assert "李妈妈" not in str(got.body) and fields["ExternalUserID"] not in str(got.body)  # no PII unless opted in
    one = api.call("GET", f"/t/{TENANT}/webhooks/{hook['webhook_id']}", None, token)
    assert [d["delivery_id"] for d in one.json["recent_deliveries"]] == [got.delivery_id]
    assert one.json["recent_deliveries"][0]["status"] == "delivered"


def test_a_retried_callback_makes_one_delivery(api: Api, receiver: Receiver) -> None:
    token, _ = setup(api, receiver)
    fields, _ = scan(api, token)
    api.clock.advance(seconds=2)
    again = api.callback(TENANT, fields)  # WeCom redelivers the same event
    assert again.status_code == 200
    send()
    assert [g.event for g in receiver.got] == ["customer.added"]


def test_personal_fields_are_sent_only_when_opted_in(api: Api, receiver: Receiver) -> None:
    token, _ = setup(api, receiver, pii=["name", "external_userid"])
    fields, _ = scan(api, token)
    send()
    assert receiver.got[0].body["personal"] == {"name": "李妈妈", "external_userid": fields["ExternalUserID"]}


def test_dead_letters_are_listed_and_replayed_once(api: Api, receiver: Receiver) -> None:
    token, hook = setup(api, receiver)
    receiver.fail_first = 6
    scan(api, token)
    for minutes in (0, 1, 5, 30, 120, 360):
        api.clock.advance(minutes=minutes)
        send()
    assert [g.status for g in receiver.got] == [500] * 6
    ops = api.token(TENANT, "ops")
    path = f"/t/{TENANT}/webhooks/{hook['webhook_id']}/dead-letters"
    dead = api.call("GET", path, None, ops)
    assert dead.status_code == 200
    [letter] = dead.json["items"]
    assert letter["attempts"] == 6 and letter["last_status"] == 500 and letter["status"] == "dead"
    first = api.call("POST", path, {"ids": [letter["delivery_id"]]}, ops)
    second = api.call("POST", path, {}, ops)  # all: none left
    assert first.json == {"replayed": [letter["delivery_id"]], "skipped": []}
    assert second.json == {"replayed": [], "skipped": []}
    send()
    assert receiver.got[-1].status == 200 and receiver.got[-1].delivery_id == letter["delivery_id"]
    assert len(receiver.got) == 7
    assert api.call("GET", path, None, ops).json["items"] == []


def test_bad_input_is_a_4xx_and_stores_nothing(api: Api, receiver: Receiver) -> None:
    token = api.create_tenant()
    bad = [
        {"url": "http://hooks.example.com/x", "events": ["customer.added"]},  # plain http, not loopback
        {"url": receiver.url, "events": ["customer.deleted"]},
        {"url": receiver.url, "events": []},
        {"url": receiver.url, "events": ["customer.added"], "pii": ["phone"]},
        {"url": receiver.url},
        {"url": "https://user:pw@example.com/x", "events": ["customer.added"]},
    ]
    for body in bad:
        resp = api.call("POST", f"/t/{TENANT}/webhooks", body, token)
        assert resp.status_code == 400 and resp.json["error"]["code"], (body, resp.body)
    assert api.call("GET", f"/t/{TENANT}/webhooks", None, token).json["items"] == []
    assert services().store.list_webhooks(TENANT) == []
    ops = api.token(TENANT, "ops")
    denied = api.call("POST", f"/t/{TENANT}/webhooks", {"url": receiver.url, "events": ["customer.added"]}, ops)
    assert denied.status_code == 403
    missing = api.call("POST", f"/t/{TENANT}/webhooks/wh_nope/dead-letters", {"ids": ["wd_" + "0" * 32]}, ops)
    assert missing.status_code == 404
    replay_bad = api.call("POST", f"/t/{TENANT}/webhooks/wh_nope/dead-letters", {"ids": ["nope"]}, ops)
    assert replay_bad.status_code == 400


def test_pause_rotate_and_delete(api: Api, receiver: Receiver) -> None:
    token, hook = setup(api, receiver)
    path = f"/t/{TENANT}/webhooks/{hook['webhook_id']}"
    paused = api.call("PATCH", path, {"status": "paused"}, token)
    assert paused.status_code == 200 and paused.json["status"] == "paused" and "secret" not in paused.json
    scan(api, token)
    send()
    assert receiver.got == []
    rotated = api.call("PATCH", path, {"status": "active", "rotate_secret": True}, token)
    assert rotated.json["secret"] != hook["secret"]
    stale = api.call("PATCH", path, {"description": "x", "version": 1}, token)
    assert stale.status_code == 409
    assert api.call("DELETE", path, None, token).status_code == 204
    assert api.call("GET", path, None, token).status_code == 404
    assert api.call("DELETE", path, None, token).status_code == 404


def test_a_customers_later_events_wait_while_their_add_retries(api: Api, receiver: Receiver) -> None:
    token, _ = setup(api, receiver)
    secret = api.call("PATCH", f"/admin/tenants/{TENANT}", {"rotate_events_secret": True}, ADMIN).json["events_secret"]
    receiver.fail_first = 1
    _, scanned = scan(api, token)
    cid = scanned.json["customer_id"]
    api.clock.advance(seconds=5)
    order = {"event_id": "o-1", "type": "order", "customer_id": cid, "occurred_at": api.clock.iso(), "kind": "trial"}
    raw = json.dumps({**order, "amount": 9900, "product": "试听课"}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    sent = api.call(
        "POST",
        f"/t/{TENANT}/events",
        raw,
        headers={"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)},
    )
    assert sent.status_code == 200, sent.body
    send()
    assert [(g.event, g.status) for g in receiver.got] == [("customer.added", 500)]  # the rest wait for it
    hook = api.call("GET", f"/t/{TENANT}/webhooks", None, token).json["items"][0]
    one = api.call("GET", f"/t/{TENANT}/webhooks/{hook['webhook_id']}", None, token).json
    retrying = {d["event"]: d for d in one["pending_deliveries"]}
    assert retrying["customer.added"]["attempts"] == 1 and retrying["customer.added"]["last_error"] == "http_500"
    assert "order.recorded" in retrying and one["recent_deliveries"] == []
    api.clock.advance(minutes=1)
    send()
    accepted = [g.event for g in receiver.accepted()]
    assert accepted[0] == "customer.added" and "order.recorded" in accepted
    assert all(g.body["subject"] == {"customer_id": cid} and g.signature_ok for g in receiver.accepted())
    assert [g.body["occurred_at"] for g in receiver.accepted()] == sorted(
        g.body["occurred_at"] for g in receiver.accepted()
    )


def test_erasing_a_customer_erases_their_deliveries_and_none_is_sent_after(api: Api, receiver: Receiver) -> None:
    """A customer with a delivered add, a dead-lettered order, a stage change retrying and an order behind it:
    erasure (DELETE …/customers) takes them off the webhook's lists and the outbox, none of them goes out again, and
    the other customer's stay."""
    token, hook = setup(api, receiver)
    secret = api.call("PATCH", f"/admin/tenants/{TENANT}", {"rotate_events_secret": True}, ADMIN).json["events_secret"]
    channel = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}}
    state = api.call("POST", f"/t/{TENANT}/channels", channel, token).json["state"]
    erased, kept = (api.scan(state, name=name)[1].json["customer_id"] for name in ("李妈妈", "王爸爸"))

    def order(event_id: str) -> None:
        body = {"event_id": event_id, "type": "order", "customer_id": erased, "occurred_at": api.clock.iso(),
                "kind": "trial", "amount": 9900, "product": "试听课"}  # fmt: skip
        raw, stamp = json.dumps(body, ensure_ascii=False).encode(), api.clock.stamp()
        headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
        assert api.call("POST", f"/t/{TENANT}/events", raw, headers=headers).status_code == 200

    assert send()["delivered"] == 2
    receiver.fail_subject = erased
    order("o-1")
    for minutes in (0, 1, 5, 30, 120, 360):
        api.clock.advance(minutes=minutes)
        send()
    order("o-2")
    send()
    path, ops = f"/t/{TENANT}/webhooks/{hook['webhook_id']}", api.token(TENANT, "ops")

    def shown() -> list[str]:
        one, dead = api.call("GET", path, None, ops).json, api.call("GET", f"{path}/dead-letters", None, ops).json
        listed = one["pending_deliveries"] + one["recent_deliveries"] + dead["items"]
        return sorted(f"{d['status']} {d['event']} {d['subject'].replace(erased, 'ERASED')}" for d in listed)

    assert shown() == [
        "dead order.recorded customer:ERASED",
        "delivered customer.added customer:ERASED",
        f"delivered customer.added customer:{kept}",
        "pending customer.stage_changed customer:ERASED",  # the trial order made them 试听
        "pending order.recorded customer:ERASED",
    ]
    tried = len(receiver.got)

    gone = api.call("DELETE", f"/t/{TENANT}/customers/{erased}", None, token)

    assert gone.status_code == 200 and gone.json["erased"] and gone.json["webhook_deliveries_deleted"] == 4
    assert shown() == [f"delivered customer.added customer:{kept}"]
    assert api.call("POST", f"{path}/dead-letters", {}, ops).json == {"replayed": [], "skipped": []}
    receiver.fail_subject = None
    api.clock.advance(hours=7)  # past the retry the second order was waiting for
    send()
    assert len(receiver.got) == tried and erased not in json.dumps([g.body for g in receiver.got[tried:]])
    assert api.call("DELETE", f"/t/{TENANT}/customers/{erased}", None, token).status_code == 404  # twice: no effect
    assert shown() == [f"delivered customer.added customer:{kept}"]
