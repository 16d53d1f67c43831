"""The console's sign-in records' contract, on DynamoDB Local and on the fake: a record is found by its hash within
its tenant and kind only, is never overwritten, and a take hands it out once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.console import ConsoleRepository as R
from chalicelib.errors import ConflictError
from tests.integration.contract.registry import covers

HASH = "c" * 64
DOC = {"tenant_id": "acme", "role": "ops", "userid": None, "csrf": "x", "expires_at": 1_764_640_805, "via": "link"}


@covers(R.put_console_record, R.get_console_record)
def test_a_record_is_found_by_tenant_kind_and_hash_only(store: Any) -> None:
    assert store.get_console_record("acme", "session", HASH) is None
    store.put_console_record("acme", "session", HASH, DOC, DOC["expires_at"])
    assert store.get_console_record("acme", "session", HASH) == DOC
    assert store.get_console_record("beta", "session", HASH) is None  # tenants never meet
    assert store.get_console_record("acme", "link", HASH) is None
    with pytest.raises(ConflictError):
        store.put_console_record("acme", "session", HASH, {**DOC, "role": "admin"}, DOC["expires_at"])
    assert store.get_console_record("acme", "session", HASH) == DOC


@covers(R.take_console_record)
def test_a_record_is_taken_once_even_by_concurrent_takers(store: Any) -> None:
    store.put_console_record("acme", "link", HASH, DOC, DOC["expires_at"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: store.take_console_record("acme", "link", HASH), range(4)))
    assert [g for g in got if g is not None] == [DOC]
    assert store.take_console_record("acme", "link", HASH) is None
    assert store.get_console_record("acme", "link", HASH) is None


@covers(R.delete_console_record)
def test_delete_removes_and_a_missing_record_is_fine(store: Any) -> None:
    store.put_console_record("acme", "session", HASH, DOC, DOC["expires_at"])
    store.delete_console_record("acme", "session", HASH)
    store.delete_console_record("acme", "session", HASH)
    assert store.get_console_record("acme", "session", HASH) is None
