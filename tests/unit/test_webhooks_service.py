"""Outbound webhooks (issue 14 §6) on the fake store, posted over real HTTP to the test receiver
(tests/webhook_receiver.py): signatures, retries with backoff, dead letters and replay, per-subject order,
idempotency, opt-in personal data, and a subscriber that never calls out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.webhook_http import Urllib3Poster
from chalicelib.domain import webhooks as w
from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
from chalicelib.domain.facts import Alias, StaffDayDelta
from chalicelib.domain.signals import ADDED, GROUP_JOINED, ORDER, STAGE, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.services.signals import SignalBus
from chalicelib.services.webhook_outbox import WebhookOutbox
from chalicelib.services.webhooks import WebhookService
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.webhook_receiver import Receiver, running

T0 = datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC)


class Env:
    def __init__(self, receiver: Receiver) -> None:
        self.clock = FixedClock(T0)
        self.store = FakeStore()
        self.tenant = Tenant("acme", "Acme 教育", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
        self.store.create_tenant(self.tenant)
        self.scheduler = FakeScheduler()
        self.outbox = WebhookOutbox(
            self.store, Urllib3Poster(allow_private=True), self.clock, self.scheduler, timeout=0.5
        )
        self.hooks = WebhookService(self.store, self.clock, SeqIds(), self.outbox, offline=True)
        self.bus = SignalBus()
        self.bus.subscribe(w.SIGNAL_TYPES, "webhooks", self.outbox.on_signal)
        self.receiver = receiver

    def subscribe(self, **body: Any) -> w.Subscription:
        sub, secret = self.hooks.create("acme", {"url": self.receiver.url, "events": list(w.EVENTS), **body})
        self.receiver.secret = secret
        return sub

    def customer(self, cid: str = "c1") -> Customer:
        at = T0.isoformat()
        c = Customer(
            customer_id=cid,
            external_userid=f"wm{cid}",
            owner_userid="zhang",
            source_channel_id="ch_x",
            stage=Stage.NEW,
            added_at=at,
            created_at=at,
            updated_at=at,
            name="李妈妈",
            phone_masked="138****0000",
            external_userids=(f"wm{cid}",),
            touches=(Attribution("ch_x", "zhang", at, "new"),),
            relations=(Relation("zhang", f"wm{cid}", "active", at),),
            version=1,
        )
        self.store.create_customer("acme", c, StaffDayDelta("zhang", "2026-12-01", {"adds": 1}))
        return c

    def publish(self, subject: str, signal: Signal) -> None:
        self.bus.publish(self.tenant, subject, signal)

    def added(self, cid: str = "c1", ref: str = "add1") -> None:
        self.publish(cid, Signal(ADDED, self.clock.now(), kind="new", ref=ref, staff="zhang", channel_id="ch_x"))

    def run(self) -> Any:
        return self.outbox.run_due("acme")

    def advance(self, **kw: float) -> None:
        self.clock.advance(**kw)


@pytest.fixture
def env() -> Iterator[Env]:
    with running() as receiver:
        yield Env(receiver)


def test_a_delivery_is_signed_with_the_subscriptions_secret_and_carries_its_id_and_event(env: Env) -> None:
    sub = env.subscribe()
    env.added()
    report = env.run()
    assert report.delivered == 1
    [got] = env.receiver.got
    assert got.signature_ok and got.status == 200
    assert got.event == "customer.added" and got.body["type"] == "customer.added"
    assert got.delivery_id == got.body["id"] and got.delivery_id.startswith("wd_")
    assert got.body["subject"] == {"customer_id": "c1"} and got.body["tenant"] == "acme"
    assert got.body["data"] == {"kind": "new", "channel_id": "ch_x", "staff_userid": "zhang"}
    assert got.timestamp == str(int(T0.timestamp()))
    [done] = env.store.deliveries("acme", sub.webhook_id, status=w.DELIVERED, limit=10)
    assert done.last_status == 200 and done.attempts == 1
    assert env.run().delivered == 0  # nothing twice


def test_a_wrong_secret_fails_the_receivers_check(env: Env) -> None:
    env.subscribe()
    env.receiver.secret = "whsec_not-the-one"
    env.added()
    env.run()
    assert [g.signature_ok for g in env.receiver.got] == [False]


def test_a_signal_heard_twice_makes_one_delivery(env: Env) -> None:
    env.subscribe()
    env.added(ref="add1")
    env.advance(seconds=3)
    env.added(ref="add1")  # a retried callback: the same fact, heard again later
    env.run()
    assert len(env.receiver.got) == 1


def test_the_subscriber_only_writes_it_never_calls_the_receiver(env: Env) -> None:
    env.subscribe()
    env.receiver.delay_seconds = 2.0  # a slow receiver
    env.added()
    assert env.receiver.got == []  # the publisher (the callback) made no request at all
    assert [d.status for d in env.store.due_deliveries("acme", until_key="9999", limit=10)] == [w.PENDING]
    assert len(env.scheduler.schedules) == 1  # the sender is scheduled for the next minute instead
    [(name, sched)] = env.scheduler.schedules.items()
    assert sched["payload"] == {"tenant_id": "acme", "webhooks": 1}
    assert name == "siyu-wh-acme-202612010201" and sched["expression"] == "at(2026-12-01T10:01:00)"
    env.added(cid="c2", ref="add2")
    assert len(env.scheduler.schedules) == 1 and env.scheduler.calls == 1  # one per tenant and minute


def test_a_slow_receiver_is_a_timed_out_try_retried_later(env: Env) -> None:
    env.subscribe()
    env.receiver.delay_seconds = 1.5  # the outbox waits 0.5 s here
    env.added()
    report = env.run()
    assert (report.delivered, report.failed) == (0, 1)
    [d] = env.store.due_deliveries("acme", until_key="9999", limit=10)
    assert d.last_error == "timeout" and d.attempts == 1


def test_failures_retry_with_backoff_under_the_same_delivery_id(env: Env) -> None:
    sub = env.subscribe()
    env.receiver.fail_first = 2
    env.added()
    env.run()
    env.advance(seconds=59)
    assert env.run().failed == 0 and len(env.receiver.got) == 1  # not before its minute
    env.advance(seconds=1)
    env.run()
    assert len(env.receiver.got) == 2
    env.advance(minutes=4, seconds=59)
    env.run()
    assert len(env.receiver.got) == 2  # the second wait is 5 minutes
    env.advance(seconds=1)
    assert env.run().delivered == 1
    assert [g.status for g in env.receiver.got] == [500, 500, 200]
    assert len({g.delivery_id for g in env.receiver.got}) == 1  # one id across its retries: the receiver dedupes
    [done] = env.store.deliveries("acme", sub.webhook_id, status=w.DELIVERED, limit=10)
    assert done.attempts == 3


def test_a_delivery_failing_every_retry_is_a_dead_letter_and_replays_once(env: Env) -> None:
    sub = env.subscribe()
    env.receiver.fail_first = 6
    env.added()
    for wait in [timedelta(0), *w.BACKOFF]:
        env.clock.current += wait
        env.run()
    assert len(env.receiver.got) == 6
    [dead] = env.hooks.deliveries("acme", sub.webhook_id, status=w.DEAD)
    assert dead.attempts == 6 and dead.last_status == 500
    assert env.store.due_deliveries("acme", until_key="9999", limit=10) == []
    env.advance(hours=1)
    first = env.hooks.replay("acme", sub.webhook_id, ids=[dead.delivery_id])
    second = env.hooks.replay("acme", sub.webhook_id, ids=[dead.delivery_id])  # a second click
    assert first == {"replayed": [dead.delivery_id], "skipped": []}
    assert second == {"replayed": [], "skipped": [dead.delivery_id]}
    assert env.run().delivered == 1
    assert env.receiver.got[-1].delivery_id == dead.delivery_id and env.receiver.got[-1].status == 200
    assert env.hooks.replay("acme", sub.webhook_id, ids=None) == {"replayed": [], "skipped": []}
    assert env.hooks.deliveries("acme", sub.webhook_id, status=w.DEAD) == []


def test_a_later_event_waits_while_an_earlier_one_of_its_customer_retries(env: Env) -> None:
    env.subscribe()
    env.receiver.fail_first = 1
    env.added(cid="c1")
    env.advance(seconds=1)
    env.publish("c1", Signal(STAGE, env.clock.now(), stage="trial"))
    env.publish("c2", Signal(ORDER, env.clock.now(), kind="trial", amount=990, ref="o2"))  # another customer
    env.run()
    # c1's add failed: its stage change waits; c2 is not held up by c1
    assert [(g.event, g.status) for g in env.receiver.got] == [("customer.added", 500), ("order.recorded", 200)]
    env.advance(seconds=30)
    env.run()
    assert len(env.receiver.got) == 2  # still waiting for the add's retry
    env.advance(seconds=30)
    env.run()
    events = [(g.event, g.body["subject"].get("customer_id")) for g in env.receiver.accepted()]
    assert events == [("order.recorded", "c2"), ("customer.added", "c1"), ("customer.stage_changed", "c1")]


def test_a_customers_events_of_one_instant_arrive_in_the_order_they_were_heard(env: Env) -> None:
    env.subscribe()
    refs = [f"o{n}" for n in range(12)]
    for ref in refs:  # one instant: the due index orders them by id (a hash), the subject's queue by seq
        env.publish("c1", Signal(ORDER, env.clock.now(), kind="trial", amount=100, ref=ref))
    env.run()
    ids = [env.receiver.got[n].delivery_id for n in range(len(refs))]
    sent = [env.store.get_delivery("acme", i) for i in ids]
    assert [d.seq for d in sent if d is not None] == sorted(d.seq for d in sent if d is not None)
    assert len(env.receiver.accepted()) == len(refs)


def test_a_dead_letter_releases_its_customers_queue(env: Env) -> None:
    env.subscribe()
    env.receiver.fail_subject = "c1"
    env.added(cid="c1")
    env.advance(seconds=1)
    env.publish("c1", Signal(STAGE, env.clock.now(), stage="trial"))
    for wait in [timedelta(0), *w.BACKOFF]:
        env.clock.current += wait
        env.run()
    adds = [g for g in env.receiver.got if g.event == "customer.added"]
    assert len(adds) == 6 and all(g.status == 503 for g in adds)
    stages = [g for g in env.receiver.got if g.event == "customer.stage_changed"]
    assert len(stages) == 1 and env.receiver.got[-1] == stages[0]  # tried only once the add was dead, at once
    env.receiver.fail_subject = None
    env.advance(minutes=1)
    env.run()
    assert env.receiver.accepted()[-1].event == "customer.stage_changed"


def test_personal_data_only_in_the_fields_opted_into(env: Env) -> None:
    env.customer("c1")
    env.subscribe()
    env.added()
    env.run()
    assert "personal" not in env.receiver.got[-1].body
    assert "李妈妈" not in str(env.receiver.got[-1].body) and "wmc1" not in str(env.receiver.got[-1].body)
    sub = env.hooks.all("acme")[0]
    env.hooks.update("acme", sub.webhook_id, {"pii": ["name", "phone_masked"]})
    env.added(ref="add2")
    env.run()
    assert env.receiver.got[-1].body["personal"] == {"name": "李妈妈", "phone_masked": "138****0000"}


def test_a_group_join_names_its_member_as_a_customer_and_their_data_only_when_opted_in(env: Env) -> None:
    env.customer("c1")
    env.store.put_alias("acme", Alias("ext", env.tenant.hmac_hex("ext:wmc1"), "c1"))
    env.subscribe()
    env.publish("wr1", Signal(GROUP_JOINED, T0, kind="1", chat_id="wr1", member="wmc1", ref="j1"))
    env.publish("wr1", Signal(GROUP_JOINED, T0, kind="1", chat_id="wr1", member="wmstranger", ref="j0"))
    env.run()
    bodies = [g.body for g in env.receiver.got]
    assert bodies[0]["data"] == {"chat_id": "wr1", "scene": "1", "customer_id": "c1"}
    assert bodies[1]["data"] == {"chat_id": "wr1", "scene": "1"}  # not a customer: nobody named
    assert all("wmc1" not in str(b) and "wmstranger" not in str(b) for b in bodies)
    assert "wmc1" not in str(env.store.get_delivery("acme", env.receiver.got[0].delivery_id))  # ids only, kept
    sub = env.hooks.all("acme")[0]
    env.hooks.update("acme", sub.webhook_id, {"pii": ["external_userid"]})
    env.publish("wr1", Signal(GROUP_JOINED, T0, kind="1", chat_id="wr1", member="wmc1", ref="j2"))
    env.run()
    assert env.receiver.got[-1].body["personal"] == {"external_userid": "wmc1"}
    assert env.receiver.got[-1].body["subject"] == {"chat_id": "wr1"}


def test_an_erased_customers_data_is_never_sent(env: Env) -> None:
    env.customer("c1")
    env.subscribe(pii=["name", "phone_masked"])
    env.added()
    env.store.erase_customer("acme", "c1", tombstones=[])
    env.run()
    assert "personal" not in env.receiver.got[-1].body and "李妈妈" not in str(env.receiver.got[-1].body)


def test_only_wanted_events_of_active_subscriptions_are_queued(env: Env) -> None:
    sub = env.subscribe(events=["order.recorded"])
    env.added()
    assert env.store.due_deliveries("acme", until_key="9999", limit=10) == []
    env.hooks.update("acme", sub.webhook_id, {"status": "paused"})
    env.publish("c1", Signal(ORDER, T0, kind="full", amount=1, ref="o1"))
    assert env.store.due_deliveries("acme", until_key="9999", limit=10) == []


def test_a_paused_subscriptions_pending_deliveries_wait_and_a_deleted_ones_are_dropped(env: Env) -> None:
    sub = env.subscribe()
    env.added()
    env.hooks.update("acme", sub.webhook_id, {"status": "paused"})
    assert env.run().held == 1 and env.receiver.got == []
    env.hooks.update("acme", sub.webhook_id, {"status": "active"})
    env.advance(minutes=15)
    assert env.run().delivered == 1
    env.added(ref="add2")
    env.hooks.delete("acme", sub.webhook_id)
    env.run()
    assert len(env.receiver.got) == 1
    assert env.store.due_deliveries("acme", until_key="9999", limit=10) == []


def test_subscriptions_are_validated_and_the_secret_rotates(env: Env) -> None:
    with pytest.raises(InvalidError):
        env.hooks.create("acme", {"url": "http://hooks.example.com/x", "events": ["customer.added"]})
    with pytest.raises(InvalidError):
        env.hooks.create("acme", {"url": env.receiver.url, "events": ["customer.deleted"]})
    assert env.store.list_webhooks("acme") == []
    sub = env.subscribe()
    assert sub.secret.startswith("whsec_") and "secret" not in sub.public()
    new, secret = env.hooks.update("acme", sub.webhook_id, {"rotate_secret": True})
    assert secret is not None and secret != sub.secret and new.secret == secret and new.version == 2
    with pytest.raises(ConflictError):
        env.hooks.update("acme", sub.webhook_id, {"description": "x", "version": 1})
    with pytest.raises(NotFoundError):
        env.hooks.get("other", sub.webhook_id)  # tenants never meet
    env.receiver.secret = secret
    env.added()
    env.run()
    assert env.receiver.got[-1].signature_ok


def test_a_blocked_address_outside_offline_stages_is_never_called() -> None:
    poster = Urllib3Poster(allow_private=False, resolve=lambda *a, **k: [(2, 1, 6, "", ("169.254.169.254", 443))])
    assert poster.post("https://metadata.example/x", b"{}", {}, timeout=0.5).error == "blocked"
    with running() as receiver:  # a name resolving to loopback
        loop = Urllib3Poster(allow_private=False, resolve=lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", receiver.port))])
        assert loop.post(receiver.url, b"{}", {}, timeout=0.5).error == "blocked"
        assert receiver.got == []


def test_two_senders_never_post_one_delivery_together(env: Env) -> None:
    env.subscribe()
    env.added()
    other = WebhookOutbox(env.store, Urllib3Poster(allow_private=True), env.clock, timeout=0.5)

    class StaleStore:
        """The first sender's view: it read the due list, then the other sender ran before it claimed anything."""

        def __getattr__(self, name: str) -> Any:
            return getattr(env.store, name)

        def due_deliveries(self, tenant_id: str, **kw: Any) -> list[w.Delivery]:
            due = env.store.due_deliveries(tenant_id, **kw)
            if due and not env.receiver.got:
                other.run_due("acme")  # it claims, posts and records the delivery first
            return due

    first = WebhookOutbox(StaleStore(), Urllib3Poster(allow_private=True), env.clock, timeout=0.5)
    report = first.run_due("acme")
    assert len(env.receiver.got) == 1 and report.delivered == 0
