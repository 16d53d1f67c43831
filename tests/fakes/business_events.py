"""In-memory business-event storage (same conditional semantics as FactRepository), and recording fakes of the
signal publisher and the SOP engine's TaskSink port whose state shows what an event caused."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Fact
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import Entry, entry_of
from chalicelib.errors import ConflictError
from chalicelib.ports import Signal


class FakeEventStoreMixin:
    """Business-event repository methods of FakeStore. Facts are keyed (tenant, customer or "", digest)."""

    lock: Any
    customers: dict[tuple[str, str], Customer]

    if TYPE_CHECKING:  # FakeTimelineStoreMixin

        def put_entry(
            self, tenant_id: str, customer_id: str, suffix: str, entry: Entry, *, once: bool = False
        ) -> bool: ...

    channels: dict[tuple[str, str], Any]

    def _events(self) -> dict[str, dict[Any, Any]]:
        if not hasattr(self, "_event_state"):
            self._event_state: dict[str, dict[Any, Any]] = {"facts": {}, "metrics": {}}
        return self._event_state

    def load_event_target(self, tenant_id: str, customer_id: str, digest: str) -> tuple[Customer | None, bool]:
        return self.customers.get((tenant_id, customer_id)), (tenant_id, customer_id, digest) in self._events()["facts"]

    def record_event(
        self, tenant_id: str, fact: Fact, *, customer: Customer | None = None, expected_version: int = 0
    ) -> None:
        with self.lock:
            key = (tenant_id, fact.customer_id, fact.digest)
            if key in self._events()["facts"]:
                raise ConflictError("the event was already applied")
            if customer is not None:
                current = self.customers.get((tenant_id, customer.customer_id))
                if current is None or current.version != expected_version:
                    raise ConflictError("the customer changed concurrently")
                self.customers[(tenant_id, customer.customer_id)] = customer
            self._events()["facts"][key] = fact
            if fact.customer_id:  # the won write's timeline entry, as EventStoreMixin writes it
                self.put_entry(tenant_id, fact.customer_id, fact.digest, entry_of(fact))

    def load_exposure_target(self, tenant_id: str, channel_id: str, digest: str) -> tuple[bool, bool]:
        return (tenant_id, channel_id) in self.channels, (tenant_id, "", digest) in self._events()["facts"]

    def record_exposure(self, tenant_id: str, fact: Fact, *, channel_id: str, date: str, uv: int) -> None:
        with self.lock:
            key = (tenant_id, "", fact.digest)
            if key in self._events()["facts"]:
                raise ConflictError("the event was already applied")
            self._events()["facts"][key] = fact
            row = self._events()["metrics"].setdefault((tenant_id, channel_id, date), {})
            row["uv"] = row.get("uv", 0) + uv

    def get_event_fact(self, tenant_id: str, customer_id: str, digest: str) -> Fact | None:
        return self._events()["facts"].get((tenant_id, customer_id, digest))

    def channel_metrics(self, tenant_id: str, channel_id: str, date: str) -> dict[str, int]:
        return dict(self._events()["metrics"].get((tenant_id, channel_id, date), {}))


@dataclass
class RecordingSignals:
    """A SignalPublisher that remembers every signal per customer (what the subscribers would have been told)."""

    received: list[tuple[str, str, Signal]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        with self.lock:
            self.received.append((tenant.tenant_id, customer_id, signal))

    def of(self, customer_id: str, type_: str | None = None) -> list[Signal]:
        return [s for _, c, s in self.received if c == customer_id and (type_ is None or s.type == type_)]


@dataclass
class FollowUp:
    customer_id: str
    owner_userid: str
    reason: str
    text: str
    due: datetime


@dataclass
class RecordingTasks:
    """TaskSink with the port's contract: one task per dedupe_key, however often it is asked."""

    tasks: dict[str, FollowUp] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def follow_up(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        owner_userid: str,
        reason: str,
        text: str,
        due: datetime,
        dedupe_key: str,
        kind: str = "follow_up",
    ) -> str:
        with self.lock:
            self.requests += 1
            self.tasks.setdefault(f"{tenant_id}#{dedupe_key}", FollowUp(customer_id, owner_userid, reason, text, due))
        return f"fu_{dedupe_key}"
