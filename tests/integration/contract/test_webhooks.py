"""The outbound webhooks' contract (issue 14 §6), on DynamoDB Local and on the fake: conditional writes, the due,
delivered and dead indexes, and each subject's queue of pending deliveries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.webhooks import WebhookRepository as R
from chalicelib.domain.webhooks import DEAD, DELIVERED, DROPPED, PENDING, Delivery, Subscription
from chalicelib.errors import UpstreamError
from tests.fakes.secrets import FakeSecrets
from tests.integration.contract.registry import covers

AT = "2026-12-01T10:00:00+08:00"


def sub(webhook_id: str = "wh_1", **kw: Any) -> Subscription:
    base: dict[str, Any] = dict(
        webhook_id=webhook_id,
        url="https://hooks.example.com/siyu",
        events=("customer.added", "order.recorded"),
        secret="whsec_x",
        created_at=AT,
        pii=("name",),
        description="CRM 同步",
    )
    base.update(kw)
    return Subscription(**base)


def delivery(did: str, seq: str, due_at: str = AT, subject: str = "customer:c1", **kw: Any) -> Delivery:
    base: dict[str, Any] = dict(
        delivery_id=did,
        webhook_id="wh_1",
        event="customer.added",
        subject=subject,
        seq=seq,
        occurred_at=AT,
        created_at=AT,
        due_at=due_at,
        data={"kind": "new", "amount": 100},
    )
    base.update(kw)
    return Delivery(**base)


@covers(R.put_webhook, R.get_webhook, R.list_webhooks, R.delete_webhook)
def test_a_subscription_is_created_once_and_changed_only_at_the_version_read(store: Any) -> None:
    assert store.put_webhook("acme", sub(), expected_version=None)
    assert not store.put_webhook("acme", sub(url="https://other.example.com"), expected_version=None)
    assert store.get_webhook("acme", "wh_1") == sub()
    v2 = replace(sub(), status="paused", version=2)
    assert not store.put_webhook("acme", v2, expected_version=5)
    assert store.put_webhook("acme", v2, expected_version=1)
    assert store.get_webhook("acme", "wh_1") == v2
    assert store.put_webhook("acme", sub("wh_2"), expected_version=None)
    assert store.put_webhook("other", sub("wh_3"), expected_version=None)
    assert [s.webhook_id for s in store.list_webhooks("acme")] == ["wh_1", "wh_2"]
    assert store.get_webhook("other", "wh_1") is None
    assert store.delete_webhook("acme", "wh_1")
    assert not store.delete_webhook("acme", "wh_1")
    assert [s.webhook_id for s in store.list_webhooks("acme")] == ["wh_2"]


@covers(R.create_delivery, R.get_delivery, R.save_delivery, R.due_deliveries)
def test_a_delivery_is_created_once_saved_at_its_version_and_due_while_pending(store: Any) -> None:
    d1 = delivery("wd_1", "s1", due_at="2026-12-01T10:00:00+08:00")
    assert store.create_delivery("acme", d1)
    assert not store.create_delivery("acme", replace(d1, event="order.recorded"))  # the same signal again
    assert store.get_delivery("acme", "wd_1") == d1
    assert store.create_delivery("acme", delivery("wd_2", "s2", due_at="2026-12-01T10:05:00+08:00"))
    assert store.create_delivery("other", delivery("wd_3", "s3"))
    due = store.due_deliveries("acme", until_key="2026-12-01T02:00:00Z", limit=10)
    assert [d.delivery_id for d in due] == ["wd_1"]
    due = store.due_deliveries("acme", until_key="2026-12-01T03:00:00Z", limit=10)
    assert [d.delivery_id for d in due] == ["wd_1", "wd_2"]
    later = replace(d1, due_at="2026-12-01T10:30:00+08:00", attempts=1, version=2)
    assert not store.save_delivery("acme", later, expected_version=7)
    assert store.save_delivery("acme", later, expected_version=1)
    assert not store.save_delivery("acme", replace(later, version=3), expected_version=1)  # a second sender
    due = store.due_deliveries("acme", until_key="2026-12-01T03:00:00Z", limit=10)
    assert [d.delivery_id for d in due] == ["wd_2", "wd_1"]
    assert store.get_delivery("acme", "wd_1") == later


@covers(R.subject_head, R.deliveries)
def test_a_subjects_queue_and_the_delivered_and_dead_lists(store: Any) -> None:
    first, second = delivery("wd_a", "2026-12-01T02:00:00.000000#1"), delivery("wd_b", "2026-12-01T02:00:00.000000#2")
    other = delivery("wd_c", "2026-12-01T01:00:00.000000#0", subject="customer:c2")
    for d in (second, first, other):
        assert store.create_delivery("acme", d)
    assert store.subject_head("acme", "wh_1", "customer:c1") == "wd_a"
    assert store.subject_head("acme", "wh_1", "customer:c2") == "wd_c"
    assert store.subject_head("acme", "wh_2", "customer:c1") is None
    done = replace(first, status=DELIVERED, delivered_at="2026-12-01T10:01:00+08:00", version=2, last_status=200)
    assert store.save_delivery("acme", done, expected_version=1)
    assert store.subject_head("acme", "wh_1", "customer:c1") == "wd_b"  # delivered: out of the queue
    dead = replace(second, status=DEAD, dead_at="2026-12-01T18:00:00+08:00", version=2, attempts=6)
    assert store.save_delivery("acme", dead, expected_version=1)
    assert store.subject_head("acme", "wh_1", "customer:c1") is None
    dropped = replace(other, status=DROPPED, version=2)
    assert store.save_delivery("acme", dropped, expected_version=1)
    assert store.due_deliveries("acme", until_key="2026-12-31T00:00:00Z", limit=10) == []
    assert store.deliveries("acme", "wh_1", status=DELIVERED, limit=10) == [done]
    assert store.deliveries("acme", "wh_1", status=DEAD, limit=10) == [dead]
    assert store.deliveries("acme", "wh_2", status=DEAD, limit=10) == []
    again = replace(dead, status=PENDING, attempts=0, dead_at=None, version=3, due_at=AT, replays=1)
    assert store.save_delivery("acme", again, expected_version=2)
    assert store.deliveries("acme", "wh_1", status=DEAD, limit=10) == []
    assert store.subject_head("acme", "wh_1", "customer:c1") == "wd_b"


@covers(R.webhook_secret)
def test_a_signing_secret_is_kept_in_the_secret_store_when_there_is_one(store: Any) -> None:
    assert store.put_webhook("acme", sub(), expected_version=None)  # no secret store: in the item
    assert store.webhook_secret("acme", store.get_webhook("acme", "wh_1")) == "whsec_x"
    secrets = FakeSecrets()
    if hasattr(store, "repos"):
        store.repos.webhooks.secrets = secrets
    else:
        store.secrets = secrets
    assert store.put_webhook("acme", sub("wh_2"), expected_version=None)
    kept = store.get_webhook("acme", "wh_2")
    assert kept.secret == "" and kept.secrets_version == 1  # the item holds no secret, only its version
    assert secrets.versions == {"tenants/acme/webhooks/wh_2": ["whsec_x"]}
    assert store.webhook_secret("acme", kept) == "whsec_x"
    renamed = replace(kept, description="改名", version=2)  # a change that keeps the secret writes none
    assert store.put_webhook("acme", renamed, expected_version=1)
    assert len(secrets.versions["tenants/acme/webhooks/wh_2"]) == 1
    rotated = replace(store.get_webhook("acme", "wh_2"), secret="whsec_y", version=3)
    assert store.put_webhook("acme", rotated, expected_version=2)
    now = store.get_webhook("acme", "wh_2")
    assert now.secrets_version == 2 and store.webhook_secret("acme", now) == "whsec_y"
    assert store.webhook_secret("acme", replace(now, secrets_version=1)) == "whsec_x"  # versions stay readable
    with pytest.raises(UpstreamError):
        store.webhook_secret("acme", replace(now, secrets_version=9))


@covers(R.erase_deliveries)
def test_a_subjects_deliveries_are_erased_in_every_state_and_the_others_queues_stay(store: Any) -> None:
    """Erasure deletes the customer's deliveries to every subscription, pending (new, retrying), delivered, dead and
    dropped; another customer's queue keeps its order, another tenant's same subject is untouched."""
    c1 = [
        delivery("wd_new", "2026-12-01T02:00:00.000000#1"),
        delivery("wd_retry", "2026-12-01T01:00:00.000000#0", due_at="2026-12-01T10:30:00+08:00", attempts=2),
        delivery("wd_done", "2026-12-01T00:00:00.000000#0", webhook_id="wh_2"),
        delivery("wd_dead", "2026-12-01T00:30:00.000000#0", event="order.recorded"),
        delivery("wd_drop", "2026-12-01T00:40:00.000000#0", webhook_id="wh_gone"),
    ]
    c2 = [delivery(f"wd_c2_{n}", f"2026-12-01T0{n}:00:00.000000#0", subject="customer:c2") for n in (1, 2)]
    for d in [*c1, *c2]:
        assert store.create_delivery("acme", d)
    assert store.create_delivery("other", delivery("wd_x", "2026-12-01T02:00:00.000000#0"))
    done = replace(c1[2], status=DELIVERED, delivered_at="2026-12-01T10:01:00+08:00", version=2, last_status=200)
    dead = replace(c1[3], status=DEAD, dead_at="2026-12-01T18:00:00+08:00", version=2, attempts=6)
    for d in (done, dead, replace(c1[4], status=DROPPED, version=2)):
        assert store.save_delivery("acme", d, expected_version=1)
    assert store.subject_head("acme", "wh_1", "customer:c1") == "wd_retry"

    assert store.erase_deliveries("acme", "customer:c1") == 5

    assert [store.get_delivery("acme", d.delivery_id) for d in c1] == [None] * 5
    assert store.subject_head("acme", "wh_1", "customer:c1") is None
    assert store.deliveries("acme", "wh_2", status=DELIVERED, limit=10) == []
    assert store.deliveries("acme", "wh_1", status=DEAD, limit=10) == []
    due = store.due_deliveries("acme", until_key="2026-12-31T00:00:00Z", limit=10)
    assert [d.delivery_id for d in due] == ["wd_c2_1", "wd_c2_2"]
    assert store.subject_head("acme", "wh_1", "customer:c2") == "wd_c2_1"  # the other customer's order stands
    assert store.get_delivery("other", "wd_x") is not None and store.subject_head("other", "wh_1", "customer:c1")
    assert not store.save_delivery("acme", replace(c1[0], version=2), expected_version=1)  # a sender's late save
    assert store.get_delivery("acme", "wd_new") is None  # does not bring it back
    assert store.erase_deliveries("acme", "customer:c1") == 0  # twice: nothing more
