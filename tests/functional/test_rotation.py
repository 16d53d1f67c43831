"""Secrets and tokens that rotate cleanly, through the real app: a warm container (tenant cache on) sees a rotated
events secret or WeCom Token/key at once, the old events secret works for its grace period on the shared clock, and
the old WeCom Token/key for theirs, and tokens show their last use and stop at once when revoked."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.wecom.crypto import CallbackCrypto
from chalicelib.domain.business_events import sign
from chalicelib.services.tenants import TenantService
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

EVENT = {"event_id": "k-1", "type": "checkin", "customer_id": "cabcdefgh", "occurred_at": "2026-12-01T01:00:00Z"}


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def warm(api: Api) -> tuple[Api, str, Ticker]:
    """The tenant, its events secret, and this container's tenant cache switched on (60 s, on a hand-moved
    monotonic clock)."""
    created = api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    assert created.status_code == 201
    cache = bootstrap.services().tenant_cache
    ticker = Ticker()
    cache.ttl, cache.monotonic = 60, ticker
    return api, created.json["events_secret"], ticker


def _elsewhere() -> TenantService:
    """The admin API in another container: it writes the tenant, but cannot drop this container's cache."""
    svc = bootstrap.services()
    return TenantService(svc.store, svc.clock, svc.ids)


def _post(api: Api, secret: str, body: dict[str, Any] = EVENT) -> Any:
    raw = json.dumps(body).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    return api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)


def test_a_rotated_events_secret_works_at_once_and_the_old_one_for_ten_minutes(warm: tuple[Api, str, Ticker]) -> None:
    api, old, ticker = warm
    assert _post(api, old).status_code == 200  # the tenant is cached now
    new = _elsewhere().update(TENANT, {"rotate_events_secret": True}).events_secret
    ticker.now += 5  # well inside the cache's 60 s
    assert _post(api, new).status_code == 200  # at once: the mismatch re-read the tenant
    api.clock.advance(seconds=599)
    assert _post(api, old).status_code == 200  # the grace period
    api.clock.advance(seconds=1)
    refused = _post(api, old)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "bad_signature"
    assert _post(api, new).status_code == 200


def test_rotation_through_the_api_shows_in_the_same_container_at_once(warm: tuple[Api, str, Ticker]) -> None:
    api, old, _ = warm
    assert _post(api, old).status_code == 200
    moved = api.call("PATCH", f"/admin/tenants/{TENANT}", {"timezone": "Europe/Berlin"}, ADMIN)
    assert moved.json["created_at"].endswith("+01:00")
    assert api.call("GET", f"/admin/tenants/{TENANT}", token=ADMIN).json["created_at"].endswith("+01:00")


def _verify_url(api: Api, cfg: dict[str, str]) -> Any:
    crypto = CallbackCrypto(cfg["token"], cfg["encoding_aes_key"], CORP)
    ts = api.clock.stamp()
    echostr, sig = crypto.encrypt(b"1288432023552776189", nonce="99", timestamp=ts)
    query = urlencode({"msg_signature": sig, "timestamp": ts, "nonce": "99", "echostr": echostr})
    return api.call("GET", f"/wecom/{TENANT}/callback?{query}")


def test_a_rotated_wecom_token_and_key_work_at_once(warm: tuple[Api, str, Ticker]) -> None:
    api, _, ticker = warm
    fields = api.sandbox.world.event(CORP, "edit_external_contact", external_userid="wmnobody")
    assert api.callback(TENANT, fields).status_code == 200  # cached
    rotated = {"token": "rotatedToken7", "encoding_aes_key": "R" * 43}
    _elsewhere().update(TENANT, {"wecom": rotated})
    ticker.now += 5
    new = {**WECOM, **rotated}
    verified = _verify_url(api, new)  # what WeCom sends when the admin saves the new settings in its console
    assert verified.status_code == 200 and verified.body == b"1288432023552776189"
    assert api.callback(TENANT, fields, wecom=new).status_code == 200
    assert api.callback(TENANT, fields).status_code == 200  # the old pair, until the grace period ends
    api.clock.advance(seconds=600)
    stale = api.callback(TENANT, fields)
    assert stale.status_code == 401 and stale.json["error"]["code"] == "bad_signature"
    assert api.callback(TENANT, fields, wecom=new).status_code == 200


def test_tokens_list_their_role_and_last_use_and_revoke_at_once(api: Api) -> None:
    admin = api.create_tenant()
    crm = api.call("POST", f"/admin/tenants/{TENANT}/tokens", {"role": "ops", "label": "CRM"}, ADMIN).json
    assert crm["last_used_at"] is None and crm["created_at"] == "2026-12-01T10:00:05+08:00"

    def listed() -> dict[str, dict[str, Any]]:
        resp = api.call("GET", f"/admin/tenants/{TENANT}/tokens", token=ADMIN)
        assert resp.status_code == 200
        return {t["token_id"]: t for t in resp.json["items"]}

    assert listed()[crm["token_id"]]["last_used_at"] is None
    api.clock.advance(minutes=1)
    assert api.call("GET", f"/t/{TENANT}/staff", token=crm["token"]).status_code == 200
    assert listed()[crm["token_id"]]["last_used_at"] == "2026-12-01T10:01:05+08:00"
    api.clock.advance(minutes=59)
    api.call("GET", f"/t/{TENANT}/staff", token=crm["token"])
    assert listed()[crm["token_id"]]["last_used_at"] == "2026-12-01T10:01:05+08:00"  # within the hour: no write
    api.clock.advance(minutes=1)
    api.call("GET", f"/t/{TENANT}/staff", token=crm["token"])
    assert listed()[crm["token_id"]]["last_used_at"] == "2026-12-01T11:01:05+08:00"
    roles = sorted((t["role"], t["label"]) for t in listed().values())
    assert roles == [("admin", ""), ("ops", "CRM")]
    assert all("token" not in t and "token_hash" not in t for t in listed().values())

    revoked = api.call("DELETE", f"/admin/tenants/{TENANT}/tokens/{crm['token_id']}", token=ADMIN)
    assert revoked.status_code == 204
    refused = api.call("GET", f"/t/{TENANT}/staff", token=crm["token"])
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert crm["token_id"] not in listed()
    assert api.call("GET", f"/t/{TENANT}/staff", token=admin).status_code == 200
    again = api.call("DELETE", f"/admin/tenants/{TENANT}/tokens/{crm['token_id']}", token=ADMIN)
    assert again.status_code == 404
