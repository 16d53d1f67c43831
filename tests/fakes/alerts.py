"""In-memory hot leads and alerts outbox with the same conditional semantics as AlertRepository."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamodb.alerts import due_key_of
from chalicelib.domain.alerts import Alert, HotLead


@dataclass
class _HotRow:
    lead: HotLead
    hot_key: str
    cleared_key: str | None = None
    listed: bool = True


class FakeAlertStoreMixin:
    lock: Any

    def _hot(self) -> dict[tuple[str, str], _HotRow]:
        """(tenant, customer) → the hot state (erase_customer deletes it with the customer's partition)."""
        if not hasattr(self, "_hot_state"):
            self._hot_state: dict[tuple[str, str], _HotRow] = {}
        return self._hot_state

    def _alerts(self) -> dict[tuple[str, str], Alert]:
        if not hasattr(self, "_alert_state"):
            self._alert_state: dict[tuple[str, str], Alert] = {}
        return self._alert_state

    def mark_hot(self, tenant_id: str, lead: HotLead, *, hot_key: str) -> bool:
        with self.lock:
            row = self._hot().get((tenant_id, lead.customer_id))
            if row is not None and not (row.hot_key < hot_key and (row.cleared_key or "") < hot_key):
                return False
            self._hot()[(tenant_id, lead.customer_id)] = _HotRow(lead, hot_key)
            return True

    def clear_hot(self, tenant_id: str, customer_id: str, *, cleared_key: str) -> bool:
        with self.lock:
            row = self._hot().get((tenant_id, customer_id))
            if row is None or not row.listed or row.hot_key > cleared_key:
                return False
            row.cleared_key, row.listed = cleared_key, False
            return True

    def get_hot(self, tenant_id: str, customer_id: str) -> HotLead | None:
        row = self._hot().get((tenant_id, customer_id))
        return row.lead if row is not None and row.listed else None

    def hot_leads(self, tenant_id: str, userid: str, *, since_key: str, limit: int) -> list[HotLead]:
        rows = [
            (f"{r.hot_key}#{cid}", r.lead)
            for (t, cid), r in self._hot().items()
            if t == tenant_id and r.listed and r.lead.owner_userid == userid and f"{r.hot_key}#{cid}" >= since_key
        ]
        return [lead for _, lead in sorted(rows, key=lambda row: row[0], reverse=True)][:limit]

    def create_alert(self, tenant_id: str, alert: Alert) -> bool:
        with self.lock:
            if (tenant_id, alert.alert_id) in self._alerts():
                return False
            self._alerts()[(tenant_id, alert.alert_id)] = alert
            return True

    def get_alert(self, tenant_id: str, alert_id: str) -> Alert | None:
        return self._alerts().get((tenant_id, alert_id))

    def save_alert(self, tenant_id: str, alert: Alert, *, expected: Alert) -> bool:
        with self.lock:
            current = self._alerts().get((tenant_id, alert.alert_id))
            if current is None or current != expected:
                return False
            self._alerts()[(tenant_id, alert.alert_id)] = alert
            return True

    def due_alerts(self, tenant_id: str, *, until_key: str, limit: int) -> list[Alert]:
        rows = []
        for (t, alert_id), alert in self._alerts().items():
            key = due_key_of(alert)
            if t == tenant_id and key is not None and key <= until_key:
                rows.append((f"{key}#{alert_id}", alert))
        return [alert for _, alert in sorted(rows, key=lambda row: row[0])][:limit]

    def take_alert_slot(
        self, tenant_id: str, userid: str, *, minute: str, hour: str, per_minute: int, per_hour: int
    ) -> str | None:
        with self.lock:
            if not hasattr(self, "_alert_rates"):
                self._alert_rates: dict[tuple[str, str, str], int] = {}
            for window, key, limit in (("minute", minute, per_minute), ("hour", hour, per_hour)):
                slot = (tenant_id, userid, f"{window}#{key}")
                if self._alert_rates.get(slot, 0) >= limit:
                    return window
                self._alert_rates[slot] = self._alert_rates.get(slot, 0) + 1
            return None
