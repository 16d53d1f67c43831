"""Business-event storage: the EventStoreMixin contract on DynamoDB Local and on the in-memory fake, and the whole unit
suite of tests/unit/test_business_events.py again through the real DynamoStore
(transactions and conditions included)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.business_events import FactRepository
from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.business_events import sign
from chalicelib.domain.channels import Assignment, Channel
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.facts import Alias, Fact
from chalicelib.errors import ConflictError
from chalicelib.services.business_events import EventService
from chalicelib.settings import Settings
from tests.fakes.business_events import RecordingSignals, RecordingTasks
from tests.integration.contract.registry import covers
from tests.integration.test_store_contract import customer
from tests.unit import test_business_events
from tests.unit.conftest import make_channel, make_env

# Re-collect the service tests here; the `ev` fixture below swaps the store for DynamoDB Local.
globals().update(
    {
        name: fn
        for name, fn in vars(test_business_events).items()
        if name.startswith("test_") and name != "test_concurrent_duplicates_have_one_effect"  # fake-only barrier
    }
)


@pytest.fixture
def ev(ddb_settings: Settings) -> test_business_events.Events:
    env = make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name))
    signals, tasks = RecordingSignals(), RecordingTasks()
    return test_business_events.Events(env, EventService(env.store, env.clock, signals, tasks), signals, tasks)


AT = "2026-12-01T19:55:00+08:00"


def _customer(cid: str = "cabc1") -> Customer:
    return customer(cid, AT, applied=())  # the contract suite's customer, with no event applied yet


def _fact(cid: str, digest: str = "d1", **over: Any) -> Fact:
    base = Fact("acme", cid, 1764590100, digest, "order", AT, "zhang", detail={"event_id": "o1", "kind": "trial"})
    return replace(base, **over)


def _seed(store: Any, c: Customer) -> None:
    store.create_customer("acme", c, _counter())


def _counter() -> Any:
    from chalicelib.domain.facts import StaffDayDelta

    return StaffDayDelta("zhang", "2026-12-01", {"adds": 1})


@covers(FactRepository.load_event_target, FactRepository.record_event, FactRepository.get_event_fact)
def test_event_fact_alone_is_written_once(store: Any) -> None:
    c = _customer()
    _seed(store, c)
    assert store.load_event_target("acme", "cabc1", "d1") == (c, False)
    store.record_event("acme", _fact("cabc1"))
    assert store.load_event_target("acme", "cabc1", "d1") == (c, True)
    with pytest.raises(ConflictError):
        store.record_event("acme", _fact("cabc1", detail={"other": True}))
    assert store.get_event_fact("acme", "cabc1", "d1") == _fact("cabc1")
    assert store.get_event_fact("other", "cabc1", "d1") is None
    assert store.load_event_target("acme", "cnobody", "d1") == (None, False)


@covers(FactRepository.load_event_target, FactRepository.record_event)
def test_event_with_customer_change_is_one_transaction(store: Any) -> None:
    c = _customer()
    _seed(store, c)
    trial = replace(c, stage=Stage.TRIAL, last_inbound_at=AT, suppress_marketing=True, version=2)
    with pytest.raises(ConflictError):  # stale version: neither the fact nor the profile is written
        store.record_event("acme", _fact("cabc1"), customer=trial, expected_version=7)
    assert store.load_event_target("acme", "cabc1", "d1") == (c, False)
    store.record_event("acme", _fact("cabc1"), customer=trial, expected_version=1)
    assert store.load_event_target("acme", "cabc1", "d1") == (trial, True)
    with pytest.raises(ConflictError):  # the same event again, even with the right version
        store.record_event("acme", _fact("cabc1"), customer=replace(trial, version=3), expected_version=2)
    assert store.get_customer("acme", "cabc1") == trial
    # The won write's timeline entry, keyed by the event's time: one, however often the event came.
    assert store.timeline("acme", "cabc1", limit=10) == [_fact("cabc1")]


@covers(
    FactRepository.load_exposure_target,
    FactRepository.record_exposure,
    FactRepository.get_event_fact,
    FactRepository.channel_metrics,
)
def test_exposure_fact_and_counter_are_written_together_once(store: Any) -> None:
    ch = Channel("ch_abcd1", "抖音", "douyin", assignment=Assignment("single", ("zhang",)), created_at=AT)
    store.create_channel("acme", ch)
    fact = _fact("", "x1", type="exposure", channel_id="ch_abcd1", detail={"uv": 40})
    assert store.load_exposure_target("acme", "ch_abcd1", "x1") == (True, False)
    assert store.load_exposure_target("acme", "ch_nope1", "x1") == (False, False)
    store.record_exposure("acme", fact, channel_id="ch_abcd1", date="2026-12-01", uv=40)
    with pytest.raises(ConflictError):
        store.record_exposure("acme", fact, channel_id="ch_abcd1", date="2026-12-01", uv=40)
    store.record_exposure("acme", replace(fact, digest="x2"), channel_id="ch_abcd1", date="2026-12-01", uv=2)
    assert store.channel_metrics("acme", "ch_abcd1", "2026-12-01") == {"uv": 42}
    assert store.channel_metrics("acme", "ch_abcd1", "2026-12-02") == {}
    assert store.load_exposure_target("acme", "ch_abcd1", "x1") == (True, True)
    assert store.get_event_fact("acme", "", "x1") == fact


@covers(FactRepository.record_event)
def test_concurrent_event_writes_have_one_winner(store: Any) -> None:
    c = _customer()
    _seed(store, c)
    outcomes: list[str] = []

    def write() -> None:
        try:
            store.record_event(
                "acme", _fact("cabc1"), customer=replace(c, stage=Stage.TRIAL, version=2), expected_version=1
            )
            outcomes.append("won")
        except ConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=write) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 4 + ["won"]


def test_erasure_deletes_the_customers_business_events(ddb_settings: Settings) -> None:
    """DynamoDB only: erasure deletes the whole customer partition, E# facts included (the fake keeps them apart)."""
    store = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    _seed(store, _customer())
    store.record_event("acme", _fact("cabc1"))
    store.erase_customer("acme", "cabc1", tombstones=[Alias("ext", "e1", "", erased_at=1)])
    assert store.get_event_fact("acme", "cabc1", "d1") is None


def test_concurrent_duplicate_deliveries_on_dynamodb_have_one_effect(ddb_settings: Settings) -> None:
    env = make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name))
    signals, tasks = RecordingSignals(), RecordingTasks()
    svc = EventService(env.store, env.clock, signals, tasks)
    _, scanned = env.scan(make_channel(env).state)
    cid = scanned.customer_id
    secret = env.store.get_tenant("unit").events_secret
    raw = json.dumps(
        {"events": [test_business_events.message("m1", cid, "怎么买"), test_business_events.order("o1", cid)]}
    ).encode()
    stamp = str(int(env.clock.epoch()))
    statuses: list[str] = []

    def deliver() -> None:
        result = svc.receive("unit", timestamp=stamp, signature=sign(secret, stamp, raw), body=raw)
        statuses.extend(r["status"] for r in result["results"])

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["applied"] * 2 + ["duplicate"] * 10
    assert len(signals.of(cid, "reply")) == 1 and len(signals.of(cid, "order")) == 1 and tasks.requests == 1
    assert env.store.get_customer("unit", cid).stage == Stage.TRIAL
