"""Ports of the alerts to staff: the outbox and the hot leads (adapters/dynamodb/alerts.py; tests/fakes/alerts.py).

Every write is conditional, so a repeat, a retry or a concurrent sender has no second effect.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.alerts import Alert, HotLead


class HotLeadRepository(Protocol):
    def mark_hot(self, tenant_id: str, lead: HotLead, *, hot_key: str) -> bool:
        """Make the customer hot as of ``hot_key`` (the reply's UTC key), listed under ``lead.owner_userid``; only
        if nothing newer made it hot or cleared it (False otherwise: a repeat, or an older reply arriving late)."""
        ...

    def clear_hot(self, tenant_id: str, customer_id: str, *, cleared_key: str) -> bool:
        """Take the customer off the hot list as of ``cleared_key`` (an order's UTC key); False if it was not hot
        (or a newer reply made it hot after that)."""
        ...

    def get_hot(self, tenant_id: str, customer_id: str) -> HotLead | None:
        """The customer's hot state while it is listed (not cleared), whatever its age."""
        ...

    def hot_leads(self, tenant_id: str, userid: str, *, since_key: str, limit: int) -> list[HotLead]:
        """The owner's hot leads made hot at or after ``since_key`` (UTC key), newest first: one Query."""
        ...


class AlertRepository(Protocol):
    def create_alert(self, tenant_id: str, alert: Alert) -> bool:
        """Put the alert only if its id is new (False: the same fact raised it already)."""
        ...

    def get_alert(self, tenant_id: str, alert_id: str) -> Alert | None: ...

    def save_alert(self, tenant_id: str, alert: Alert, *, expected: Alert) -> bool:
        """Replace the alert only while it is still exactly ``expected`` (its status and every field: a sender that
        read a stale copy, or a second one reclaiming the same expired lease, loses). The due index holds a pending
        alert at its ``due_at`` and a sending one at its ``lease_until`` (a crashed sender's alert comes back);
        a final one leaves it."""
        ...

    def due_alerts(self, tenant_id: str, *, until_key: str, limit: int) -> list[Alert]:
        """Alerts in the due index at or before ``until_key`` (UTC key), earliest first: pending ones that are due,
        sending ones whose lease has ended."""
        ...

    def take_alert_slot(
        self, tenant_id: str, userid: str, *, minute: str, hour: str, per_minute: int, per_hour: int
    ) -> str | None:
        """Count one send to ``userid`` in its calendar ``minute`` and ``hour`` if both are under their limits:
        None if it may go, else the window that is full ("minute" or "hour"). Conditional adds: concurrent
        senders never pass a limit together."""
        ...
