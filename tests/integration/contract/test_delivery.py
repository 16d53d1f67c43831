"""The delivery contract, on DynamoDB Local and on the fake: a msgid belongs to one task, a lease to one fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb.delivery import DeliveryRepository as R
from tests.integration.contract.registry import covers

AT = "2026-12-01T09:00:00+08:00"
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@covers(R.claim_msgid)
def test_a_msgid_belongs_to_at_most_one_task(store: Any) -> None:
    assert store.claim_msgid("acme", "msg1", "tk_a", at=AT)
    assert store.claim_msgid("acme", "msg1", "tk_a", at=AT)  # the same task again: still its own
    assert not store.claim_msgid("acme", "msg1", "tk_b", at=AT)  # never a second task's
    assert store.claim_msgid("other", "msg1", "tk_b", at=AT)  # tenants never meet
    assert store.claim_msgid("acme", "msg2", "tk_b", at=AT)


@covers(R.take_lease, R.release_lease)
def test_a_lease_is_held_by_one_fire_until_released_or_lapsed(store: Any) -> None:
    hold = timedelta(minutes=2)
    assert store.take_lease("acme", "b1", "f1", now=NOW, hold=hold)
    assert not store.take_lease("acme", "b1", "f2", now=NOW + timedelta(seconds=30), hold=hold)
    assert store.take_lease("acme", "b1", "f1", now=NOW + timedelta(seconds=30), hold=hold)  # renewed by its owner
    assert store.take_lease("other", "b1", "f2", now=NOW, hold=hold)
    assert store.take_lease("acme", "b2", "f2", now=NOW, hold=hold)  # another bucket is another lease
    store.release_lease("acme", "b1", "f2")  # not f2's: nothing happens
    assert not store.take_lease("acme", "b1", "f2", now=NOW + timedelta(seconds=60), hold=hold)
    store.release_lease("acme", "b1", "f1")
    assert store.take_lease("acme", "b1", "f2", now=NOW + timedelta(seconds=60), hold=hold)
    # Lapsed: f2 crashed holding it; after its hold anyone may take it.
    assert not store.take_lease("acme", "b1", "f3", now=NOW + timedelta(seconds=179), hold=hold)
    assert store.take_lease("acme", "b1", "f3", now=NOW + timedelta(seconds=181), hold=hold)
