"""Tenants and tokens with the in-memory store: secrets that rotate cleanly in a warm container (the tenant cache),
bounded re-reads on bad signatures, token last use and revocation, and instants rendered in the tenant's zone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.wecom.callback_xml import build_event_xml
from chalicelib.adapters.wecom.codec import WXCallbackCodec
from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope
from chalicelib.domain.business_events import sign
from chalicelib.domain.instants import localize_times
from chalicelib.domain.tenants import (
    EVENTS_SECRET_GRACE_SECONDS,
    TOKEN_USE_RESOLUTION_SECONDS,
    WECOM_CALLBACK_GRACE_SECONDS,
    Role,
)
from chalicelib.errors import CallbackSignatureError, UnauthorizedError
from chalicelib.services.business_events import EventService
from chalicelib.services.callbacks import CallbackService, TenantCache
from chalicelib.services.tenants import TenantService
from tests.fakes import SeqIds
from tests.fakes.business_events import RecordingSignals, RecordingTasks
from tests.fakes.store import FakeStore
from tests.unit.conftest import CORP, WECOM, Env, make_env

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Ticker:
    """A monotonic clock for the cache, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Warm:
    """One warm container (a tenant cache with a 60 s TTL, and the services over it) and, apart from it, the admin
    API running in another container (no shared cache), as in a deployed stack."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.ticker = Ticker()
        self.cache = TenantCache(env.store, 60, monotonic=self.ticker)
        self.events = EventService(env.store, env.clock, RecordingSignals(), RecordingTasks(), tenants=self.cache)
        self.callbacks = CallbackService(self.cache, WXCallbackCodec(max_bytes=64 * 1024), env.svc.intake, env.clock)
        self.admin = TenantService(env.store, env.clock, SeqIds())  # another container: no cache to forget

    def reads(self) -> int:
        return sum(1 for c in self.env.store.calls if c.startswith("get_tenant"))

    def post(self, secret: str, event_id: str = "e1") -> dict[str, Any]:
        body = {"event_id": event_id, "type": "checkin", "customer_id": "cabcdefgh"}
        body["occurred_at"] = "2026-12-01T08:00:00Z"
        raw = json.dumps(body).encode()
        stamp = str(int(self.env.clock.epoch()))
        return self.events.receive("unit", timestamp=stamp, signature=sign(secret, stamp, raw), body=raw)

    def callback(self, wecom: dict[str, str], fields: dict[str, Any]) -> Any:
        crypto = CallbackCrypto(wecom["token"], wecom["encoding_aes_key"], CORP)
        ts = str(int(self.env.clock.epoch()))
        encrypted, sig = crypto.encrypt(build_event_xml(fields), nonce="42", timestamp=ts)
        params = {"msg_signature": sig, "timestamp": ts, "nonce": "42"}
        return self.callbacks.receive("unit", params, envelope(CORP, encrypted))


@pytest.fixture
def warm() -> Warm:
    return Warm(make_env(FakeStore()))


def _status(result: dict[str, Any]) -> str:
    return str(result["results"][0]["status"])


# --- the tenant cache -----------------------------------------------------------------------------------------


def test_the_cache_serves_a_tenant_for_its_ttl_and_refresh_rereads_consistently(warm: Warm) -> None:
    warm.cache.get("unit")
    warm.env.store.calls.clear()
    warm.ticker.now += 59
    assert warm.cache.get("unit") is not None and warm.env.store.calls == []
    assert warm.cache.refresh("unit") is not None
    assert warm.env.store.calls == ["get_tenant_consistent"]
    warm.ticker.now += 0.5
    warm.cache.refresh("unit")  # read half a second ago: the cached copy is that fresh
    assert warm.env.store.calls == ["get_tenant_consistent"]
    warm.ticker.now += 60
    warm.cache.get("unit")
    assert warm.env.store.calls == ["get_tenant_consistent", "get_tenant"]


def test_a_missing_tenant_is_neither_cached_nor_kept(warm: Warm) -> None:
    for n in range(50):
        assert warm.cache.get(f"ghost-{n}") is None
    assert warm.cache._cache.keys() == set()  # made-up ids cannot grow the cache
    warm.env.svc.tenants.create(tenant_id="ghost-1", name="新机构", corp_id="wwghost", wecom=WECOM)
    assert warm.cache.get("ghost-1") is not None  # created a moment ago, found at once


# --- events secret rotation -----------------------------------------------------------------------------------


def test_a_rotated_events_secret_works_at_once_in_a_warm_container(warm: Warm) -> None:
    old = warm.env.store.get_tenant("unit").events_secret
    assert _status(warm.post(old)) == "unknown_customer"  # the container caches the tenant
    new = warm.admin.update("unit", {"rotate_events_secret": True}).events_secret
    warm.ticker.now += 5
    assert _status(warm.post(new, "e2")) == "unknown_customer"  # a mismatch re-read the tenant past the cache
    assert _status(warm.post(old, "e3")) == "unknown_customer"  # the old one is in its grace period


def test_the_old_secret_stops_after_its_grace_period_even_from_the_cache(warm: Warm) -> None:
    old = warm.env.store.get_tenant("unit").events_secret
    warm.admin.update("unit", {"rotate_events_secret": True})
    warm.post(old)  # caches the rotated tenant
    warm.env.clock.advance(seconds=EVENTS_SECRET_GRACE_SECONDS)
    warm.ticker.now += 5  # still cached (60 s TTL), but the grace is measured on the injected clock
    with pytest.raises(UnauthorizedError) as exc:
        warm.post(old, "e2")
    assert exc.value.code == "bad_signature"


def test_bad_signatures_cost_at_most_one_store_read_a_second(warm: Warm) -> None:
    secret = warm.env.store.get_tenant("unit").events_secret
    warm.post(secret)
    warm.ticker.now += 5
    before = warm.reads()
    for n in range(100):  # a burst of bad signatures within one second
        with pytest.raises(UnauthorizedError):
            warm.post("not-the-secret", f"x{n}")
        warm.ticker.now += 0.009
    assert warm.reads() - before == 1
    warm.ticker.now += 1
    with pytest.raises(UnauthorizedError):
        warm.post("not-the-secret", "y")
    assert warm.reads() - before == 2


def test_a_signature_the_store_does_not_match_either_is_401_not_a_loop(warm: Warm) -> None:
    warm.ticker.now += 5
    with pytest.raises(UnauthorizedError):
        warm.post("not-the-secret")
    assert warm.reads() >= 1


# --- WeCom callback token / key rotation ----------------------------------------------------------------------


def test_a_rotated_wecom_token_and_key_work_at_once_in_a_warm_container(warm: Warm) -> None:
    fields = warm.env.world.event(CORP, "edit_external_contact", now=warm.env.clock.epoch(), external_userid="wmX")
    assert warm.callback(WECOM, fields).outcome  # caches the tenant
    rotated = {"token": "rotatedToken7", "encoding_aes_key": "b" * 43}
    warm.admin.update("unit", {"wecom": rotated})
    warm.ticker.now += 5
    assert warm.callback({**WECOM, **rotated}, fields).outcome  # re-read on the signature mismatch
    warm.ticker.now += 5
    assert warm.callback(WECOM, fields).outcome  # until the console is saved WeCom signs with the old pair
    reads = warm.reads()
    warm.ticker.now += 5
    assert warm.callback(WECOM, fields).outcome and warm.reads() == reads  # the cached previous pair: no re-read
    warm.env.clock.advance(seconds=WECOM_CALLBACK_GRACE_SECONDS)
    warm.ticker.now += 5
    with pytest.raises(CallbackSignatureError):
        warm.callback(WECOM, fields)  # the grace is over


def test_changing_only_the_wecom_secret_keeps_no_previous_pair(warm: Warm) -> None:
    tenant = warm.admin.update("unit", {"wecom": {"secret": "new-api-secret"}})
    assert tenant.wecom_secret == "new-api-secret" and tenant.previous_callback_config(0) is None
    assert tenant.previous_wecom_until == 0


def test_a_wrong_callback_signature_rereads_the_tenant_at_most_once_a_second(warm: Warm) -> None:
    fields = warm.env.world.event(CORP, "edit_external_contact", now=warm.env.clock.epoch(), external_userid="wmX")
    warm.callback(WECOM, fields)
    warm.ticker.now += 5
    before = warm.reads()
    for _ in range(20):
        with pytest.raises(CallbackSignatureError):
            warm.callback({**WECOM, "token": "forgedToken1"}, fields)
    assert warm.reads() - before == 1


# --- tokens ---------------------------------------------------------------------------------------------------


def test_a_token_use_is_recorded_at_most_once_an_hour(env: Env) -> None:
    token, public = env.svc.tenants.issue_token("unit", role="ops", label="CRM")
    assert public["last_used_at"] is None
    writes = lambda: env.store.calls.count("record_token_use")  # noqa: E731
    env.svc.tenants.authenticate("unit", token, Role.VIEWER)
    first = env.svc.tenants.list_tokens("unit")[0]["last_used_at"]
    assert first == "2026-12-01T20:00:00+08:00" and writes() == 1
    for _ in range(30):
        env.clock.advance(minutes=1)
        env.svc.tenants.authenticate("unit", token, Role.VIEWER)
    assert writes() == 1 and env.svc.tenants.list_tokens("unit")[0]["last_used_at"] == first
    env.clock.advance(seconds=TOKEN_USE_RESOLUTION_SECONDS - 30 * 60)
    env.svc.tenants.authenticate("unit", token, Role.VIEWER)
    assert writes() == 2 and env.svc.tenants.list_tokens("unit")[0]["last_used_at"] == "2026-12-01T21:00:00+08:00"


def test_concurrent_first_uses_write_once(env: Env) -> None:
    token, _ = env.svc.tenants.issue_token("unit", role="ops")
    stale = env.store.get_token("unit", env.store.list_tokens("unit")[0].token_hash)
    env.svc.tenants.authenticate("unit", token, Role.VIEWER)
    # A second request that read the token before the first one's write: its conditional update is refused.
    now = int(env.clock.epoch())
    assert stale.last_used == 0
    assert not env.store.record_token_use(
        "unit", stale.token_hash, at=now, if_before=now - TOKEN_USE_RESOLUTION_SECONDS + 1
    )


def test_a_failed_use_record_never_fails_the_request(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.errors import UpstreamError

    def down(*args: Any, **kwargs: Any) -> bool:
        raise UpstreamError("the database request failed")

    token, _ = env.svc.tenants.issue_token("unit", role="ops")
    monkeypatch.setattr(env.store, "record_token_use", down)
    assert env.svc.tenants.authenticate("unit", token, Role.OPS).role == Role.OPS


def test_a_revoked_token_is_refused_at_once_and_listing_shows_roles(env: Env) -> None:
    ops, _ = env.svc.tenants.issue_token("unit", role="ops", label="CRM")
    env.svc.tenants.issue_token("unit", role="staff", staff_userid="zhang")
    listed = env.svc.tenants.list_tokens("unit")
    assert [(t["role"], t["staff_userid"], t["label"]) for t in listed] == [
        ("ops", None, "CRM"),
        ("staff", "zhang", ""),
    ]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    env.svc.tenants.authenticate("unit", ops, Role.OPS)
    env.svc.tenants.revoke_token("unit", listed[0]["token_id"])
    with pytest.raises(UnauthorizedError):
        env.svc.tenants.authenticate("unit", ops, Role.VIEWER)
    assert env.store.record_token_use("unit", "0" * 64, at=1, if_before=1) is False  # never re-creates a token
    assert [t["role"] for t in env.svc.tenants.list_tokens("unit")] == ["staff"]


def test_token_times_follow_the_tenant_zone(env: Env) -> None:
    token, _ = env.svc.tenants.issue_token("unit", role="viewer")
    env.svc.tenants.authenticate("unit", token, Role.VIEWER)
    env.svc.tenants.update("unit", {"timezone": "America/New_York"})
    listed = env.svc.tenants.list_tokens("unit")[0]
    assert listed["created_at"] == listed["last_used_at"] == "2026-12-01T07:00:00-05:00"


# --- instants in the tenant's zone ----------------------------------------------------------------------------


def test_localize_times_converts_time_fields_only() -> None:
    body = {
        "created_at": "2026-12-01T02:00:00+00:00",
        "items": [{"due_at": "2026-12-01T02:00:00.250Z", "snoozed_until": "2026-12-01T11:00:00+09:00"}],
        "next_due": "2026-12-01T02:00:00Z",
        "date": "2026-12-01",
        "step": {"at": "20:00"},
        "properties": {"start": "2026-12-01T02:00:00Z"},  # a sender's own data: left as sent
        "text": "2026-12-01T02:00:00Z",
        "sent_at": None,
    }
    out = localize_times(body, SHANGHAI)
    assert out["created_at"] == out["next_due"] == "2026-12-01T10:00:00+08:00"
    assert out["items"] == [{"due_at": "2026-12-01T10:00:00+08:00", "snoozed_until": "2026-12-01T10:00:00+08:00"}]
    assert out["date"] == "2026-12-01" and out["step"] == {"at": "20:00"} and out["sent_at"] is None
    assert out["properties"] == body["properties"] and out["text"] == body["text"]
    assert localize_times("2026-12-01T02:00:00Z", ZoneInfo("Europe/London")) == "2026-12-01T02:00:00+00:00"


def test_tenant_public_view_renders_in_its_current_zone(env: Env) -> None:
    assert env.svc.tenants.get("unit").public()["created_at"] == "2026-12-01T20:00:00+08:00"
    moved = env.svc.tenants.update("unit", {"timezone": "Europe/Berlin"})
    assert moved.public()["created_at"] == "2026-12-01T13:00:00+01:00"


def test_events_secrets_keep_the_previous_one_for_the_grace_period(env: Env) -> None:
    tenant = env.store.get_tenant("unit")
    now = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
    rotated = tenant.rotate_events_secret("new", now)
    assert rotated.events_secrets(now) == ("new", tenant.events_secret)
    assert rotated.events_secrets(now + EVENTS_SECRET_GRACE_SECONDS - 1) == ("new", tenant.events_secret)
    assert rotated.events_secrets(now + EVENTS_SECRET_GRACE_SECONDS) == ("new",)
    assert replace(tenant, events_secret="").rotate_events_secret("first", now).events_secrets(now) == ("first",)
