"""Which of a tenant's fields are credentials, and the admin token's cache (read at most once a minute)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.tenants import ADMIN_TOKEN_SECRET, SECRET_FIELDS, Tenant
from chalicelib.services.tenants import AdminToken
from tests.fakes import FixedClock
from tests.fakes.secrets import FakeSecrets

TENANT = Tenant(
    "acme", "Acme", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "corp-secret", "salt", "2026-12-01T08:00:00+08:00",
    events_secret="ev", previous_events_secret="ev0", previous_events_until=5, previous_wecom_token="tok0",
    previous_wecom_aes_key="j" * 43, previous_wecom_until=7,
)  # fmt: skip


def test_the_credentials_split_off_and_come_back_whole() -> None:
    bare = TENANT.without_secrets()
    assert all(getattr(bare, name) == "" for name in SECRET_FIELDS)
    assert (bare.salt, bare.corp_id, bare.previous_events_until, bare.previous_wecom_until) == ("salt", "wwacme", 5, 7)
    assert bare.with_secrets(TENANT.secret_fields()) == TENANT
    assert TENANT.secret_fields()["wecom_secret"] == "corp-secret"
    assert "salt" not in TENANT.secret_fields()


def test_the_admin_token_is_read_once_a_minute() -> None:
    secrets = FakeSecrets()
    secrets.put(ADMIN_TOKEN_SECRET, "first-token")
    clock = FixedClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    admin = AdminToken(secrets, clock)
    assert admin.value() == "first-token"
    secrets.put(ADMIN_TOKEN_SECRET, "second-token")
    clock.advance(seconds=59)
    assert admin.value() == "first-token" and len(secrets.reads) == 1
    clock.advance(seconds=1)
    assert admin.value() == "second-token" and len(secrets.reads) == 2


def test_offline_the_environment_token_wins_and_no_store_means_none() -> None:
    clock = FixedClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    secrets = FakeSecrets()
    assert AdminToken(secrets, clock, offline_token="env-token").value() == "env-token" and not secrets.reads
    assert AdminToken(None, clock).value() is None
    assert AdminToken(secrets, clock).value() is None  # no such parameter: the admin API answers 403
