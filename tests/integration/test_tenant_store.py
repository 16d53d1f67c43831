"""The tenant and token repository methods added for clean rotation, on DynamoDB Local and on the fake (one
contract): the previous events secret round-trips, consistent tenant reads, and a token's last use recorded by a
conditional update that concurrent requests make once and that never re-creates a revoked token."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.tenants import TenantRepository
from chalicelib.domain.tenants import Role, Tenant, TokenRecord
from tests.integration.contract.registry import covers


def tenant(tid: str = "acme") -> Tenant:
    return Tenant(
        tid, "Acme 教育", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "2026-12-01T08:00:00+08:00",
        events_secret="old-secret",
    )  # fmt: skip


def token(last_used: int = 0) -> TokenRecord:
    return TokenRecord("acme", "h" * 64, "tk_1", Role.OPS, None, "2026-12-01T08:00:00+08:00", "CRM", last_used)


@covers(TenantRepository.get_tenant, TenantRepository.put_tenant)
def test_a_rotated_tenant_round_trips_and_reads_consistently(store: Any) -> None:
    store.create_tenant(tenant())
    rotated = tenant().rotate_events_secret("new-secret", 1_796_000_000)
    rotated = rotated.with_wecom(token="newTok", aes_key="n" * 43, secret="sec", now=1_796_000_000)
    store.put_tenant(rotated)
    assert store.get_tenant("acme", consistent=True) == rotated
    assert store.get_tenant("acme") == rotated
    assert rotated.previous_events_secret == "old-secret" and rotated.previous_events_until == 1_796_000_600
    assert (rotated.previous_wecom_token, rotated.previous_wecom_aes_key) == ("tok", "k" * 43)
    assert rotated.previous_wecom_until == 1_796_000_600
    assert store.get_tenant("nobody", consistent=True) is None


@covers(TenantRepository.record_token_use)
def test_token_last_use_is_a_conditional_update(store: Any) -> None:
    store.put_token(token())
    assert store.get_token("acme", "h" * 64).last_used == 0
    assert store.record_token_use("acme", "h" * 64, at=1000, if_before=1000 - 3599)
    assert store.get_token("acme", "h" * 64) == token(1000)
    assert not store.record_token_use("acme", "h" * 64, at=2000, if_before=2000 - 3599)  # within the hour
    assert store.list_tokens("acme") == [token(1000)]
    assert store.record_token_use("acme", "h" * 64, at=4600, if_before=4600 - 3599)  # an hour later
    assert store.get_token("acme", "h" * 64).last_used == 4600
    assert not store.record_token_use("other", "h" * 64, at=9000, if_before=9000)  # tenant-scoped
    store.put_token(replace(token(), token_hash="g" * 64, token_id="tk_2", last_used=77))
    assert store.get_token("acme", "g" * 64).last_used == 77


@covers(TenantRepository.record_token_use, TenantRepository.delete_token)
def test_concurrent_uses_write_once_and_a_revoked_token_stays_gone(store: Any) -> None:
    store.put_token(token())
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda: wins.append(store.record_token_use("acme", "h" * 64, at=5000, if_before=1401)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    store.delete_token("acme", "h" * 64)
    assert not store.record_token_use("acme", "h" * 64, at=9000, if_before=9000)
    assert store.get_token("acme", "h" * 64) is None and store.list_tokens("acme") == []
