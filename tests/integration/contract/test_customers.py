"""Customer reads and versioned saves, on DynamoDB Local and on the fake (the rest of the customer contract is in
tests/integration/test_store_contract.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import customer_list
from chalicelib.adapters.dynamodb.customers import CustomerRepository as R
from chalicelib.domain.customers import Stage
from chalicelib.domain.facts import Fact
from chalicelib.errors import ConflictError
from chalicelib.ports import CustomerFilter
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


def _walk(store: Any, flt: CustomerFilter, limit: int) -> tuple[list[str], list[int]]:
    """Every page of a listing from the start: the ids in order and each page's size."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(100):
        page = store.list_customers("acme", flt, cursor=cursor, limit=limit)
        ids += [c.customer_id for c in page.items]
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if not cursor:
            return ids, sizes
    raise AssertionError("the listing never ended")


def _population(store: Any, n: int) -> None:
    """``n`` customers a minute apart (c00 oldest); every fourth is on trial, owned by li and tagged vip."""
    for i in range(n):
        special = i % 4 == 1
        store.create_customer(
            "acme",
            customer(
                f"c{i:02d}",
                f"2026-12-01T10:{i:02d}:00+08:00",
                stage=Stage.TRIAL if special else Stage.NEW,
                owner_userid="li" if special else "zhang",
                tags=frozenset({"t_vip"}) if special else frozenset(),
            ),
            counter(),
        )


@covers(R.list_customers)
def test_a_filtered_listing_reads_on_across_rounds_until_its_page_is_full(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On DynamoDB a round reads 3 index keys here (FILTERED_PAGE), so a page of matches one in four takes
    several rounds; the pages hold exactly the matches, newest first, and the last one says there is no more."""
    monkeypatch.setattr(customer_list, "FILTERED_PAGE", 3)
    _population(store, 20)
    special = [f"c{i:02d}" for i in reversed(range(20)) if i % 4 == 1]  # c17, c13, c09, c05, c01
    for flt in (
        CustomerFilter(stage="trial"),
        CustomerFilter(owner_userid="li"),
        CustomerFilter(tag="t_vip", stage="trial", owner_userid="li", channel_id="ch_a"),
    ):
        page = store.list_customers("acme", flt, cursor=None, limit=2)
        assert [c.customer_id for c in page.items] == special[:2] and page.next_cursor
        ids, sizes = _walk(store, flt, 2)
        assert ids == special and max(sizes) <= 2
        whole = store.list_customers("acme", flt, cursor=None, limit=50)
        assert [c.customer_id for c in whole.items] == special and whole.next_cursor is None
    assert _walk(store, CustomerFilter(stage="trial", channel_id="organic"), 2)[0] == []
    # The added range narrows the index read; its upper bound is exclusive.
    ranged = CustomerFilter(stage="trial", added_from="2026-12-01T02:05:00Z", added_to="2026-12-01T02:13:00Z")
    assert _walk(store, ranged, 1)[0] == ["c09", "c05"]


@covers(R.list_customers)
def test_a_listing_whose_rounds_run_out_answers_short_with_its_cursor(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two rounds of one key each (on DynamoDB) see 2 customers: a filter matching one in four answers short pages
    (empty ones too) that carry on, never a wrong one; the walk ends with every match in order."""
    monkeypatch.setattr(customer_list, "FILTERED_PAGE", 1)
    monkeypatch.setattr(customer_list, "MAX_QUERY_ROUNDS", 2)
    _population(store, 12)
    ids, sizes = _walk(store, CustomerFilter(owner_userid="li"), 1)
    assert ids == ["c09", "c05", "c01"] and max(sizes) <= 1


@covers(R.list_customers)
def test_unfiltered_pages_are_full_and_the_last_full_page_says_so(store: Any) -> None:
    _population(store, 6)
    ids, sizes = _walk(store, CustomerFilter(), 3)
    assert ids == [f"c{i:02d}" for i in reversed(range(6))] and sizes == [3, 3]
    ids, sizes = _walk(store, CustomerFilter(), 4)
    assert ids == [f"c{i:02d}" for i in reversed(range(6))] and sizes == [4, 2]
    assert store.list_customers("other", CustomerFilter(), cursor=None, limit=3).items == []
