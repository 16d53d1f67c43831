"""The repair queue's contract, on both the local stack's table queue (DynamoDB Local) and the unit tests' fake:
a handed-out item is leased, comes back after the lease unless done, hides for its backoff when retried, and a dead
item leaves the queue with its reason. Two runs never take the same item."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.repairs import MARK_TAG, PROFILE_SYNC, RepairDelivery, RepairItem
from chalicelib.settings import Settings
from tests.fakes import FixedClock
from tests.fakes.repairs import LEASE_SECONDS, MemoryRepairQueue

ITEM = RepairItem(MARK_TAG, "unit", {"userid": "zhang", "external_userid": "wm01", "add_tag": ["et01"]})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(params=["dynamodb", "fake"])
def queue(request: pytest.FixtureRequest, clock: FixedClock) -> Iterator[Any]:
    if request.param == "fake":
        yield MemoryRepairQueue(clock)
        return
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.repairs import TableRepairQueue

    settings: Settings = request.getfixturevalue("ddb_settings")
    configure(settings)
    table_queue = TableRepairQueue(clock)
    assert table_queue.lease_seconds == LEASE_SECONDS
    yield table_queue


def test_an_item_is_leased_then_done(queue: Any, clock: FixedClock) -> None:
    queue.put(ITEM)
    [got] = queue.receive(10)
    assert got.item == ITEM and got.receives == 1
    assert queue.receive(10) == []  # leased
    clock.advance(seconds=LEASE_SECONDS + 1)
    [again] = queue.receive(10)  # a run that died holding it gives it back
    assert again.item == ITEM and again.receives == 2
    queue.done(again)
    clock.advance(seconds=LEASE_SECONDS + 1)
    assert queue.receive(10) == []


def test_a_retried_item_hides_for_its_backoff_and_a_dead_one_is_gone(queue: Any, clock: FixedClock) -> None:
    queue.put(ITEM)
    queue.put(RepairItem(PROFILE_SYNC, "unit", {"customer_id": "c1", "external_userid": "wm01", "userid": "zhang"}))
    delivered = queue.receive(10)
    assert sorted(d.item.kind for d in delivered) == [MARK_TAG, PROFILE_SYNC]
    by_kind = {d.item.kind: d for d in delivered}
    queue.retry(by_kind[MARK_TAG], delay_seconds=300, reason="wecom_busy")
    queue.dead(by_kind[PROFILE_SYNC], reason="wecom_invalid_argument")
    clock.advance(seconds=299)
    assert queue.receive(10) == []
    clock.advance(seconds=2)
    [back] = queue.receive(10)
    assert back.item == ITEM and back.receives == 2
    clock.advance(days=1)
    assert [d.item for d in queue.receive(10)] == [ITEM]  # the dead one never comes back


def test_a_delayed_put_waits(queue: Any, clock: FixedClock) -> None:
    queue.put(ITEM, delay_seconds=60)
    assert queue.receive(10) == []
    clock.advance(seconds=60)
    assert [d.item for d in queue.receive(10)] == [ITEM]


def test_two_runs_never_take_the_same_item(queue: Any) -> None:
    for n in range(6):
        queue.put(RepairItem(MARK_TAG, "unit", {"userid": "zhang", "external_userid": f"wm{n:02d}", "add_tag": ["t"]}))
    taken: list[RepairDelivery] = []
    lock = threading.Lock()
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        got = queue.receive(10)
        with lock:
            taken.extend(got)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(d.item.data["external_userid"] for d in taken if d.item) == [f"wm{n:02d}" for n in range(6)]
