"""POST /t/{tenant}/events through the real app (chalice.test.Client, moto DynamoDB, the WeCom sandbox)."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def _tenant(api: Api) -> tuple[str, str]:
    """A tenant with one staff member and channel; returns (admin token, events secret from the create response)."""
    created = api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    assert created.status_code == 201, created.body
    secret = created.json["events_secret"]
    assert secret and "events_secret" not in api.call("GET", f"/admin/tenants/{TENANT}", token=ADMIN).json
    token = api.token(TENANT, "admin")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    return token, secret


def _channel(api: Api, token: str) -> str:
    body = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}, "welcome": {"text": "您好"}}
    resp = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert resp.status_code == 201, resp.body
    return str(resp.json["state"])


def _post(api: Api, secret: str, body: Any, *, ts: int | None = None, signature: str | None = None) -> Any:
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(ts) if ts is not None else api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": signature or sign(secret, stamp, raw)}
    headers["Content-Type"] = "application/json; charset=utf-8"  # what most HTTP clients send
    return api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)


def _order(api: Api, event_id: str, customer_id: str, kind: str = "trial") -> dict[str, Any]:
    now = api.clock.iso(seconds_ago=60)
    return {"event_id": event_id, "type": "order", "customer_id": customer_id, "occurred_at": now, "kind": kind,
            "amount": 9.9, "product": "体验课"}  # fmt: skip


def test_a_signed_order_moves_a_scanned_customer_to_trial_once(api: Api) -> None:
    token, secret = _tenant(api)
    _, scanned = api.scan(_channel(api, token))
    cid = scanned.json["customer_id"]
    resp = _post(api, secret, _order(api, "o-1001", cid))
    assert resp.status_code == 200, resp.body
    assert resp.json == {"results": [{"event_id": "o-1001", "status": "applied", "customer_id": cid}]}
    customer = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    assert customer["stage"] == "trial" and customer["suppress_marketing"] is False
    api.clock.advance(seconds=1)
    again = _post(api, secret, _order(api, "o-1001", cid))  # a new timestamp and signature, the same event_id
    assert again.status_code == 200 and again.json["results"][0]["status"] == "duplicate"
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json["updated_at"] == customer["updated_at"]


def test_a_batch_by_external_userid_with_a_reply(api: Api) -> None:
    token, secret = _tenant(api)
    fields, scanned = api.scan(_channel(api, token))
    cid, ext = scanned.json["customer_id"], fields["ExternalUserID"]
    now = (api.clock.now() - timedelta(seconds=5)).astimezone(timezone(timedelta(hours=8))).isoformat()
    body = {
        "events": [
            {
                "event_id": "m-1",
                "type": "message",
                "external_userid": ext,
                "occurred_at": now,
                "text": "试听课怎么报名？",
            },
            {
                "event_id": "m-2",
                "type": "message",
                "customer_id": "cnobody000000000000",
                "occurred_at": now,
                "text": "hi",
            },
        ]
    }
    resp = _post(api, secret, body)
    assert resp.status_code == 200, resp.body
    assert resp.json["results"] == [
        {"event_id": "m-1", "status": "applied", "customer_id": cid, "reply": "positive"},
        {"event_id": "m-2", "status": "unknown_customer"},
    ]
    customer = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    assert customer["stage"] == "hot" and customer["last_inbound_at"]


def test_bad_signatures_get_401_and_change_nothing(api: Api) -> None:
    token, secret = _tenant(api)
    _, scanned = api.scan(_channel(api, token))
    cid = scanned.json["customer_id"]
    forged = _post(api, secret, _order(api, "o-1", cid), signature="sha256=" + "0" * 64)
    assert forged.status_code == 401 and forged.json["error"]["code"] == "bad_signature"
    stale = _post(api, secret, _order(api, "o-1", cid), ts=int(api.clock.epoch()) - 3600)
    assert stale.status_code == 401 and stale.json["error"]["code"] == "stale_timestamp"
    unsigned = api.call("POST", f"/t/{TENANT}/events", _order(api, "o-1", cid))
    assert unsigned.status_code == 401
    invalid_unsigned = api.call("POST", f"/t/{TENANT}/events", {"nonsense": True})
    assert invalid_unsigned.status_code == 401  # the signature is checked before the body says anything
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json["stage"] == "new"
    assert _post(api, secret, _order(api, "o-1", cid), ts=int(api.clock.epoch())).status_code == 200
    unknown = api.call("POST", "/t/nosuchtenant/events", _order(api, "o-1", cid))
    assert (unknown.status_code, unknown.json) == (unsigned.status_code, unsigned.json)  # not enumerable


def test_an_invalid_body_gets_400_listing_every_error(api: Api) -> None:
    _, secret = _tenant(api)
    body = {
        "events": [
            {"event_id": "o-1", "type": "order", "customer_id": "cabcdefgh", "occurred_at": "yesterday", "kind": "vip"},
            {"event_id": "", "type": "exposure", "occurred_at": "2026-12-01T10:00:00Z", "channel_id": "x", "uv": 1.5},
        ]
    }
    resp = _post(api, secret, body)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_request"
    paths = [d["path"] for d in resp.json["error"]["details"]]
    for expected in ("/events/0", "/events/0/kind", "/events/0/occurred_at", "/events/1/event_id",
                     "/events/1/channel_id", "/events/1/uv"):  # fmt: skip
        assert expected in paths, resp.json
    too_many = _post(api, secret, {"events": [{}] * 101})
    assert too_many.status_code == 400


def test_rotating_the_events_secret_returns_it_once(api: Api) -> None:
    _, old = _tenant(api)
    rotated = api.call("PATCH", f"/admin/tenants/{TENANT}", {"rotate_events_secret": True}, ADMIN)
    assert rotated.status_code == 200 and rotated.json["events_secret"] not in ("", old)
    renamed = api.call("PATCH", f"/admin/tenants/{TENANT}", {"name": "新名字"}, ADMIN)
    assert "events_secret" not in renamed.json
    body = {"event_id": "k-1", "type": "checkin", "customer_id": "cabcdefgh", "occurred_at": "2026-01-01T08:00:00Z"}
    new = rotated.json["events_secret"]
    assert _post(api, new, body).json["results"][0]["status"] == "unknown_customer"
    api.clock.advance(seconds=599)
    assert _post(api, old, body).status_code == 200  # the old one keeps working for its 10-minute grace period
    api.clock.advance(seconds=1)
    refused = _post(api, old, body)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "bad_signature"
    assert _post(api, new, body).json["results"][0]["status"] == "unknown_customer"
