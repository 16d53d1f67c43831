"""Bad input is never a 500 (issue 7 §10): each class the fuzzer and the probes found answers a 4xx JSON error and
applies nothing; a batch is validated whole before any event is applied; tenant ids cannot be enumerated."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.test_business_events_api import _channel, _order, _tenant
from tests.functional.test_plans_api import PLANS, _plan


def _signed(api: Api, secret: str, raw: bytes, tenant: str = TENANT) -> Any:
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    return api.call("POST", f"/t/{tenant}/events", raw, headers=headers)


def _refused(resp: Any) -> str:
    assert resp.status_code == 400, resp.body
    assert set(resp.json) == {"error"} and resp.json["error"]["code"] == "invalid_request"
    return str(resp.json["error"]["message"])


def _customer(api: Api, token: str, cid: str) -> dict[str, Any]:
    return dict(api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json)


@pytest.fixture
def scanned(api: Api) -> tuple[str, str, str]:
    """(admin token, events secret, customer id) of a freshly scanned customer."""
    token, secret = _tenant(api)
    _, resp = api.scan(_channel(api, token))
    return token, secret, str(resp.json["customer_id"])


def test_integer_fields_sent_as_floats_are_400(api: Api) -> None:
    token = api.create_tenant()
    pid = api.call("POST", PLANS, _plan(), token).json["plan_id"]
    assert api.call("POST", f"{PLANS}/{pid}/publish", None, token).status_code == 200
    cohort = [{"id": "a", "joined_at": api.clock.iso()}]
    simulate = api.call("POST", f"{PLANS}/{pid}/simulate", {"days": 3, "version": 1.0, "cohort": cohort}, token)
    assert "/version" in json.dumps(simulate.json) and _refused(simulate)
    migrate = api.call("POST", f"{PLANS}/{pid}/migrate", {"from_version": 1.0, "dry_run": True}, token)
    assert "/from_version" in json.dumps(migrate.json) and _refused(migrate)
    ok = api.call("POST", f"{PLANS}/{pid}/simulate", {"days": 3, "version": 1, "cohort": cohort}, token)
    assert ok.status_code == 200, ok.body


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9007199254740993"])
def test_non_finite_and_unstorable_numbers_are_400_and_store_nothing(
    api: Api, scanned: tuple[str, str, str], literal: str
) -> None:
    token, secret, cid = scanned
    raw = json.dumps(_order(api, "o-num", cid)).replace("9.9", literal).encode()
    assert literal.encode() in raw
    _refused(_signed(api, secret, raw))
    assert _customer(api, token, cid)["stage"] == "new"
    again = _signed(api, secret, json.dumps(_order(api, "o-num", cid)).encode())  # nothing was recorded under o-num
    assert again.json["results"][0]["status"] == "applied"


def test_lone_surrogates_are_400_and_store_nothing(api: Api, scanned: tuple[str, str, str]) -> None:
    token, secret, cid = scanned
    for field, value in (("product", "体验课\\ud800"), ("event_id", "o-\\udfff")):
        event = _order(api, "o-sur", cid)
        event[field] = "@@"
        raw = json.dumps(event).replace("@@", value).encode()
        assert "surrogate" in _refused(_signed(api, secret, raw))
    assert _customer(api, token, cid)["stage"] == "new"
    plan = json.dumps(_plan(name="@@")).replace("@@", "\\ud83d").encode()
    _refused(api.call("POST", PLANS, plan, token))
    assert api.call("GET", PLANS, token=token).json["items"] == []


@pytest.mark.parametrize("depth", [17, 100, 100_000])
def test_deeply_nested_json_is_400(api: Api, scanned: tuple[str, str, str], depth: int) -> None:
    token, secret, cid = scanned
    nested = "[" * depth + "]" * depth
    event = {**_order(api, "c-deep", cid), "type": "custom", "name": "n", "properties": "@@"}
    for key in ("kind", "amount", "product"):
        del event[key]
    raw = json.dumps(event).replace('"@@"', nested).encode()
    assert "nested" in _refused(_signed(api, secret, raw))
    body = json.dumps({"userid": "zhang", "name": "@@"}).replace('"@@"', nested).encode()
    _refused(api.call("POST", f"/t/{TENANT}/staff", body, token))


def test_a_batch_is_validated_whole_before_anything_is_applied(api: Api, scanned: tuple[str, str, str]) -> None:
    """Event 1's time is a real date no conversion can hold; it used to fail after event 0 was applied."""
    token, secret, cid = scanned
    bad = {**_order(api, "o-2", cid), "occurred_at": "0001-01-01T00:00:00+08:00"}
    resp = _signed(api, secret, json.dumps({"events": [_order(api, "o-1", cid), bad]}).encode())
    assert _refused(resp) and [d["path"] for d in resp.json["error"]["details"]] == ["/events/1/occurred_at"]
    assert _customer(api, token, cid)["stage"] == "new"
    alone = _signed(api, secret, json.dumps(_order(api, "o-1", cid)).encode())
    assert alone.json["results"][0]["status"] == "applied"  # o-1 had not been applied


@pytest.mark.parametrize("create_time", ["99999999999999999999", "4294967296", "-1"])
def test_out_of_range_timestamps_in_a_signed_callback_are_400(api: Api, create_time: str) -> None:
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    fields = api.sandbox.world.scan(CORP, _channel(api, token))
    resp = api.callback(TENANT, {**fields, "CreateTime": create_time})
    assert "CreateTime" in _refused(resp)
    assert api.call("GET", f"/t/{TENANT}/customers", token=token).json["items"] == []
    assert api.callback(TENANT, fields).json["outcome"] == "created"  # the same event, correctly timed


def test_put_touch_rules_without_a_body_is_400_and_keeps_the_rules(api: Api) -> None:
    token = api.create_tenant()
    rules = f"/t/{TENANT}/settings/touch-rules"
    assert api.call("PUT", rules, {"daily_caps": {"marketing": 3}}, token).status_code == 200
    for empty in (None, b"   "):
        assert "body" in _refused(api.call("PUT", rules, empty, token))
    assert api.call("GET", rules, token=token).json["daily_caps"] == {"marketing": 3}


def _same(a: Any, b: Any) -> None:
    assert (a.status_code, a.json) == (b.status_code, b.json), (a.body, b.body)
    assert a.status_code in (400, 401, 403)


def test_unknown_tenants_answer_unsigned_requests_as_known_ones(api: Api) -> None:
    _tenant(api)
    for tenant in ("nosuchtenant", TENANT):
        assert b"does not exist" not in api.call("POST", f"/t/{tenant}/events", {}).body
    _same(api.call("POST", "/t/nosuchtenant/events", {}), api.call("POST", f"/t/{TENANT}/events", {}))
    bad_sig = {"X-Siyu-Timestamp": api.clock.stamp(), "X-Siyu-Signature": "sha256=" + "0" * 64}
    _same(
        api.call("POST", "/t/nosuchtenant/events", {}, headers=bad_sig),
        api.call("POST", f"/t/{TENANT}/events", {}, headers=bad_sig),
    )
    xml = {"Content-Type": "text/xml"}
    query = "?" + urlencode({"msg_signature": "0" * 40, "timestamp": api.clock.stamp(), "nonce": "1"})
    envelope = b"<xml><Encrypt><![CDATA[abcd]]></Encrypt></xml>"
    for suffix, body in (("", b""), (query, b"<xml"), (query, envelope)):
        _same(
            api.call("POST", f"/wecom/nosuchtenant/callback{suffix}", body, headers=xml),
            api.call("POST", f"/wecom/{TENANT}/callback{suffix}", body, headers=xml),
        )
    verify = "?" + urlencode({"msg_signature": "0" * 40, "timestamp": "1", "nonce": "1", "echostr": "abcd"})
    _same(
        api.call("GET", f"/wecom/nosuchtenant/callback{verify}"),
        api.call("GET", f"/wecom/{TENANT}/callback{verify}"),
    )


# Instants datetime cannot convert to UTC, or offset by a plan's longest wait, without overflowing (years 1 and 9999).
EDGES = ["9999-12-31T20:00:00+00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "0001-01-01T08:00:00Z"]
LONGEST = [  # the furthest a step may be from joining: a year by minutes, and day 365
    {"id": "s1", "after_minutes": 525600, "content_type": "service", "message": {"text": "一年后"}},
    {"id": "s2", "day": 365, "at": "23:59", "content_type": "service", "message": {"text": "一年后"}},
]


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("field", ["joined_at", "events"])
def test_simulating_at_the_edges_of_time_is_400(api: Api, edge: str, field: str) -> None:
    token = api.create_tenant()
    pid = api.call("POST", PLANS, _plan(steps=LONGEST), token).json["plan_id"]
    customer: dict[str, Any] = {"id": "a", "joined_at": edge}
    if field == "events":
        customer = {"id": "a", "joined_at": api.clock.iso(), "events": [{"at": edge, "type": "order", "kind": "trial"}]}
    resp = api.call("POST", f"{PLANS}/{pid}/simulate", {"days": 90, "cohort": [customer]}, token)
    path = "cohort/0/joined_at" if field == "joined_at" else "cohort/0/events/0/at"
    assert path in _refused(resp) and "out of range" in resp.json["error"]["message"]


@pytest.mark.parametrize("joined", ["0002-01-01T00:00:00+14:00", "9997-12-31T23:59:59-12:00"])
def test_simulating_just_inside_the_range_answers(api: Api, joined: str) -> None:
    token = api.create_tenant()
    pid = api.call("POST", PLANS, _plan(steps=LONGEST), token).json["plan_id"]
    cohort = [{"id": "a", "joined_at": joined, "events": [{"at": joined, "type": "reply", "text": "好"}]}]
    resp = api.call("POST", f"{PLANS}/{pid}/simulate", {"days": 90, "cohort": cohort}, token)
    assert resp.status_code == 200, resp.body
    assert resp.json["touches"] == []  # both steps lie a year out, past the 90 days


@pytest.mark.parametrize("edge", EDGES)
def test_every_date_time_query_takes_the_edges_of_time(api: Api, scanned: tuple[str, str, str], edge: str) -> None:
    """Query bounds are only compared (clamped to the first or last key), so even year 1 and 9999 answer."""
    token, _, cid = scanned
    for path, names in (
        (f"/t/{TENANT}/tasks", ("due_from", "due_to")),
        (f"/t/{TENANT}/customers", ("added_from", "added_to")),
        (f"/t/{TENANT}/customers/{cid}/timeline", ("before",)),
    ):
        for name in names:
            resp = api.call("GET", f"{path}?{urlencode({name: edge})}", token=token)
            assert resp.status_code == 200, (path, name, resp.body)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "right/UTC", "posix/Asia/Shanghai", "Mars/X"])
def test_a_time_zone_must_be_an_iana_name_on_create_and_update(api: Api, zone: str) -> None:
    api.create_tenant()
    body = {"tenant_id": "zone-test", "name": "x", "corp_id": "wwzone", "wecom": WECOM, "timezone": zone}
    assert "timezone" in _refused(api.call("POST", "/admin/tenants", body, ADMIN))
    assert api.call("GET", "/admin/tenants/zone-test", token=ADMIN).status_code == 404
    assert "timezone" in _refused(api.call("PATCH", f"/admin/tenants/{TENANT}", {"timezone": zone}, ADMIN))
    assert api.call("GET", f"/admin/tenants/{TENANT}", token=ADMIN).json["timezone"] == "Asia/Shanghai"
    for name in ("UTC", "Europe/Berlin", "Asia/Shanghai"):  # real names still move the tenant
        moved = api.call("PATCH", f"/admin/tenants/{TENANT}", {"timezone": name}, ADMIN)
        assert moved.status_code == 200 and moved.json["timezone"] == name, moved.body
