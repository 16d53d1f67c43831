"""Storage of business events (POST /t/{tenant}/events): their facts and counters; see docs/data-model.md, "Events".

Keys:
- a customer's event fact: ``T#<tid>#C#<cid>`` / ``E#<event digest>`` — in the customer's partition, so erasure
  deletes it; keyed by the event_id digest alone, so a replay finds it whatever else it carries; the write that
  wins is followed by the event's timeline entry ``F#<occurred_at:010d>#<event digest>`` (docs/data-model.md);
- an exposure fact (no customer): ``T#<tid>#EV`` / ``E#<event digest>``;
- a channel's day counters: ``T#<tid>#M#channel#<channel_id>`` / ``D#<local date>``, attribute ``uv``.

Effectively-once: each fact is written with ``attribute_not_exists(pk)``, in one transaction with whatever the
event changes (the versioned profile, the counter ADD), so a repeat — late or concurrent — changes nothing.
"""

from __future__ import annotations

import json

from pynamodb.connection import Connection
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import CounterItem, CustomerItem, FactItem, SiyuItem
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Fact
from chalicelib.domain.timeline import entry_of

CHANNEL_DIMENSION = "channel"


def _partition(tenant_id: str, customer_id: str) -> str:
    return k.customer_pk(tenant_id, customer_id) if customer_id else k.tenant_events_pk(tenant_id)


def event_fact_to_item(f: Fact) -> FactItem:
    """A business event's fact: the event time goes into ``doc`` because the key holds only the digest."""
    data = {"create_time": f.create_time, "type": f.type, "at": f.at, "userid": f.userid}
    data.update({"channel_id": f.channel_id, "detail": f.detail})
    doc = json.dumps({n: v for n, v in data.items() if v not in ("", {})}, ensure_ascii=False, separators=(",", ":"))
    return FactItem(pk=_partition(f.tenant_id, f.customer_id), sk=k.event_sk(f.digest), doc=doc)


def event_fact_from_item(tenant_id: str, customer_id: str, item: FactItem) -> Fact:
    data = json.loads(item.doc or "{}")
    return Fact(
        tenant_id=tenant_id,
        customer_id=customer_id,
        create_time=int(data.pop("create_time")),
        digest=item.sk[len(k.EVENT_PREFIX) :],
        **data,
    )


class FactRepository(DynamoBase):
    """Business events' facts and the counters they move. Given the timeline, where a won event is entered."""

    def __init__(self, connection: Connection, table_name: str, timeline: TimelineRepository) -> None:
        super().__init__(connection, table_name)
        self.timeline = timeline

    def load_event_target(self, tenant_id: str, customer_id: str, digest: str) -> tuple[Customer | None, bool]:
        """The customer and whether this event was applied to it: one two-key read, all a duplicate costs."""
        cpk = k.customer_pk(tenant_id, customer_id)
        raw = self.batch_get([(cpk, k.PROFILE_SK), (cpk, k.event_sk(digest))])
        profile = raw.get((cpk, k.PROFILE_SK))
        customer = m.customer_from_item(CustomerItem.from_raw_data(profile)) if profile else None
        return customer, (cpk, k.event_sk(digest)) in raw

    def record_event(
        self, tenant_id: str, fact: Fact, *, customer: Customer | None = None, expected_version: int = 0
    ) -> None:
        """The fact only if new; with ``customer``, in one transaction with the profile only if unchanged since
        read. ConflictError when the event was applied meanwhile or the customer changed (re-read decides)."""
        item = event_fact_to_item(fact)
        if customer is None:
            with translate("the event was already applied"):
                item.save(condition=SiyuItem.pk.does_not_exist())
        else:
            with self.transaction("the customer changed concurrently or the event was applied") as tx:
                tx.save(item, condition=SiyuItem.pk.does_not_exist())
                tx.save(m.customer_to_item(tenant_id, customer), condition=(CustomerItem.version == expected_version))
        # Only the delivery that won writes the timeline entry (1 WCU, keyed by the event's time): a replay with
        # another occurred_at is a duplicate above and never reaches here. A crash just before loses the entry only.
        if fact.customer_id:
            self.timeline.put_entry(tenant_id, fact.customer_id, fact.digest, entry_of(fact))

    def load_exposure_target(self, tenant_id: str, channel_id: str, digest: str) -> tuple[bool, bool]:
        """Whether the channel exists and whether this exposure event was applied: one two-key read."""
        channel_key = (k.tenant_pk(tenant_id), k.channel_sk(channel_id))
        fact_key = (k.tenant_events_pk(tenant_id), k.event_sk(digest))
        raw = self.batch_get([channel_key, fact_key])
        return channel_key in raw, fact_key in raw

    def record_exposure(self, tenant_id: str, fact: Fact, *, channel_id: str, date: str, uv: int) -> None:
        """The exposure fact only if new and the channel-day ``uv`` counter ADD, in one transaction: counted once."""
        counter = CounterItem(pk=k.metric_pk(tenant_id, CHANNEL_DIMENSION, channel_id), sk=k.metric_sk(date))
        with self.transaction("the event was already applied") as tx:
            tx.save(event_fact_to_item(fact), condition=SiyuItem.pk.does_not_exist())
            tx.update(counter, actions=[Path("uv").add(uv), CounterItem.kind.set(CounterItem)])

    def get_event_fact(self, tenant_id: str, customer_id: str, digest: str) -> Fact | None:
        """A recorded event (``customer_id`` "" for exposure): for operators and tests, not on the hot path."""
        item = self.get(FactItem, _partition(tenant_id, customer_id), k.event_sk(digest), consistent=True)
        return event_fact_from_item(tenant_id, customer_id, item) if item else None

    def channel_metrics(self, tenant_id: str, channel_id: str, date: str) -> dict[str, int]:
        """A channel's counters for one local day (``uv`` from exposure events; raw: the names are data)."""
        raw = self.get_raw(k.metric_pk(tenant_id, CHANNEL_DIMENSION, channel_id), k.metric_sk(date), consistent=True)
        return {name: int(v["N"]) for name, v in (raw or {}).items() if "N" in v}
