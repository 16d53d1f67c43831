"""The outbound webhooks' pure rules (issue 14 §6): backoff, ids, payloads, URL checks, ordering keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import signals as s
from chalicelib.domain import webhooks as w
from chalicelib.errors import InvalidError

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")


def delivery(**kw: object) -> w.Delivery:
    base: dict[str, object] = dict(
        delivery_id="wd_" + "0" * 32,
        webhook_id="wh_1",
        event="customer.added",
        subject="customer:c1",
        seq=w.seq_of(T0, 1),
        occurred_at=T0.isoformat(),
        created_at=T0.isoformat(),
        due_at=T0.isoformat(),
    )
    base.update(kw)
    return w.Delivery(**base)  # type: ignore[arg-type]


def test_backoff_is_1m_5m_30m_2h_6h_then_a_dead_letter() -> None:
    d, now, waits = delivery(), T0, []
    for _ in range(len(w.BACKOFF)):
        d = w.after_failure(d, now=now, zone=ZONE, status=500, error="http_500")
        assert d.status == w.PENDING
        due = datetime.fromisoformat(d.due_at)
        waits.append(due - now)
        now = due
    assert waits == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
    ]
    dead = w.after_failure(d, now=now, zone=ZONE, status=None, error="timeout")
    assert (dead.status, dead.attempts, dead.last_error, dead.last_status) == (w.DEAD, 6, "timeout", None)
    assert dead.dead_at == now.astimezone(ZONE).isoformat()
    assert dead.version == d.version + 1


def test_a_replay_starts_the_backoff_again_under_the_same_id() -> None:
    dead = w.after_failure(delivery(attempts=5), now=T0, zone=ZONE, status=500, error="http_500")
    again = w.replayed(dead, now=T0 + timedelta(hours=1), zone=ZONE)
    assert (again.status, again.attempts, again.replays, again.dead_at) == (w.PENDING, 0, 1, None)
    assert again.delivery_id == dead.delivery_id
    done = w.after_success(again, now=T0 + timedelta(hours=1), zone=ZONE, status=204)
    assert (done.status, done.last_status, done.attempts) == (w.DELIVERED, 204, 1)


def test_the_delivery_id_is_deterministic_and_differs_per_subscription_and_signal() -> None:
    sig = s.Signal(s.ADDED, T0, kind="new", ref="digest1", staff="zhang")
    later = s.Signal(s.ADDED, T0 + timedelta(seconds=3), kind="new", ref="digest1", staff="zhang")  # heard again
    one = w.delivery_id("acme", "wh_1", "customer.added", "customer:c1", w.signal_identity(sig))
    assert one == w.delivery_id("acme", "wh_1", "customer.added", "customer:c1", w.signal_identity(later))
    assert one != w.delivery_id("acme", "wh_2", "customer.added", "customer:c1", w.signal_identity(sig))
    assert one != w.delivery_id("other", "wh_1", "customer.added", "customer:c1", w.signal_identity(sig))
    stage1, stage2 = s.Signal(s.STAGE, T0, stage="trial"), s.Signal(s.STAGE, T0, stage="converted")
    assert w.signal_identity(stage1) != w.signal_identity(stage2)  # no ref: its content tells them apart
    assert one.startswith("wd_") and len(one) == 35


def test_payloads_carry_ids_and_amounts_never_personal_data_unless_given() -> None:
    order = s.Signal(s.ORDER, T0, kind="full", amount=199900, product="春季班", ref="e1")
    data = w.event_data(order)
    assert data == {"kind": "full", "amount": 199900, "product": "春季班"}
    body = w.body_of(delivery(event="order.recorded", data=data), tenant_id="acme")
    assert body["subject"] == {"customer_id": "c1"} and body["tenant"] == "acme" and "personal" not in body
    assert body["type"] == "order.recorded" and body["id"] == "wd_" + "0" * 32
    with_pii = w.body_of(delivery(), tenant_id="acme", personal={"name": "李妈妈"})
    assert with_pii["personal"] == {"name": "李妈妈"}
    group = w.body_of(delivery(subject="group:wrchat1", event="group.joined"), tenant_id="acme")
    assert group["subject"] == {"chat_id": "wrchat1"}
    joined = s.Signal(s.GROUP_JOINED, T0, kind="1", chat_id="wr1", member="wmSECRET", ref="j1")
    assert "wmSECRET" not in str(w.event_data(joined))  # the member only when opted in (the outbox adds it)
    assert w.encode({"b": 1, "a": "中"}) == '{"a":"中","b":1}'.encode()


def test_subjects_follow_the_bus() -> None:
    assert w.subject_of(s.Signal(s.GROUP_JOINED, T0), "wr1") == "group:wr1"
    assert w.subject_of(s.Signal(s.TASK_CONFIRMED, T0), "zhang") == "staff:zhang"
    assert w.subject_of(s.Signal(s.CHECKED_IN, T0), "c1") == "customer:c1"
    assert w.subject_of(s.Signal(s.TOUCH_SENT, T0), "cabc") == "customer:cabc"
    assert w.subject_of(s.Signal(s.TOUCH_SENT, T0), "wrOgQhDgAAMYQ") == "group:wrOgQhDgAAMYQ"  # a group plan's


def test_seq_orders_by_instant_then_by_the_order_heard() -> None:
    assert w.seq_of(T0, 2) < w.seq_of(T0, 10) < w.seq_of(T0 + timedelta(microseconds=1), 0)
    assert w.seq_of(T0 + timedelta(seconds=1), 0) > w.seq_of(T0, 999)


@pytest.mark.parametrize(
    ("url", "offline", "ok"),
    [
        ("https://hooks.example.com/siyu", False, True),
        ("http://hooks.example.com/siyu", False, False),
        ("http://127.0.0.1:8080/x", False, False),  # plain http only offline
        ("http://127.0.0.1:8080/x", True, True),
        ("http://localhost/x", True, True),
        ("http://10.0.0.5/x", True, False),  # offline too: plain http only to loopback
        ("https://user:pw@example.com/x", False, False),
        ("ftp://example.com/x", True, False),
        ("https:///nohost", False, False),
        ("https://example.com:99999/x", False, False),
    ],
)
def test_urls(url: str, offline: bool, ok: bool) -> None:
    if ok:
        assert w.check_url(url, offline=offline) == url
    else:
        with pytest.raises(InvalidError):
            w.check_url(url, offline=offline)


def test_private_addresses_are_not_public() -> None:
    for private in ("10.1.2.3", "127.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", "::1", "fd00::1"):
        assert not w.is_public_address(private), private
    assert w.is_public_address("93.184.216.34")


def test_events_and_personal_fields_are_checked_and_put_in_canonical_order() -> None:
    assert w.check_events(["order.recorded", "customer.added"]) == ("customer.added", "order.recorded")
    assert w.check_pii(["phone_masked", "name"]) == ("name", "phone_masked")
    with pytest.raises(InvalidError):
        w.check_events(["customer.deleted"])
    with pytest.raises(InvalidError):
        w.check_pii(["phone"])
    assert set(w.EVENT_OF) <= s.TYPES


def test_the_api_and_console_spell_the_statuses_as_the_domain_does() -> None:
    from chalicelib.api import webhooks as api
    from chalicelib.console import webhooks as console

    assert (api.DELIVERED, api.DEAD) == (w.DELIVERED, w.DEAD)
    assert (console.ACTIVE, console.PAUSED) == (w.ACTIVE, w.PAUSED)
    assert set(console.EVENT_LABELS) == set(w.EVENTS) and set(console.PII_LABELS) == set(w.PII_FIELDS)
