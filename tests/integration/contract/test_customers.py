"""Customer reads and versioned saves, on DynamoDB Local and on the fake (the rest of the customer contract is in
tests/integration/test_store_contract.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.customers import CustomerRepository as R
from chalicelib.domain.customers import Stage
from chalicelib.domain.facts import Fact
from chalicelib.errors import ConflictError
from tests.integration.contract.registry import covers
from tests.integration.test_store_contract import counter, customer

AT = "2026-12-01T10:00:00+08:00"


@covers(R.get_customer)
def test_a_customer_reads_back_whole_and_only_in_its_tenant(store: Any) -> None:
    c = customer("c1", AT, tags=frozenset({"t_vip", "t_new"}), stage=Stage.TRIAL)
    assert store.get_customer("acme", "c1") is None
    store.create_customer("acme", c, counter())
    assert store.get_customer("acme", "c1") == c
    assert store.get_customer("other", "c1") is None and store.get_customer("acme", "c2") is None


@covers(R.save_customer)
def test_a_save_needs_the_version_it_read_and_writes_its_fact_once(store: Any) -> None:
    c = customer("c1", AT)
    with pytest.raises(ConflictError):  # no such customer: a save never creates
        store.save_customer("acme", c, expected_version=0)
    store.create_customer("acme", c, counter())
    v2 = replace(c, stage=Stage.TRIAL, version=2)
    store.save_customer("acme", v2, expected_version=1)
    with pytest.raises(ConflictError):  # stale
        store.save_customer("acme", replace(c, version=2), expected_version=1)
    assert store.get_customer("acme", "c1") == v2
    fact = Fact("acme", "c1", 1764560000, "f1", "tags_changed", "2026-12-01T11:00:00+08:00", "zhang")
    v3 = replace(v2, tags=frozenset({"t_vip"}), version=3)
    store.save_customer("acme", v3, expected_version=2, fact=fact)
    with pytest.raises(ConflictError):  # the same fact again: nothing changes
        store.save_customer("acme", replace(v3, version=4), expected_version=3, fact=fact)
    assert store.get_customer("acme", "c1") == v3
    assert store.load_customer("acme", "c1", fact.create_time, "f1") == (v3, True)
    assert store.timeline("acme", "c1", limit=10) == [fact]
