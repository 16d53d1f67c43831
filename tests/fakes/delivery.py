"""In-memory msgid claims and fire leases, with DeliveryRepository's conditional semantics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


class FakeDeliveryStoreMixin:
    lock: Any

    def _delivery(self) -> dict[str, dict[tuple[str, str], Any]]:
        if not hasattr(self, "_delivery_state"):
            self._delivery_state: dict[str, dict[tuple[str, str], Any]] = {"msgids": {}, "leases": {}}
        return self._delivery_state

    def claim_msgid(self, tenant_id: str, msgid: str, task_id: str, *, at: str) -> bool:
        with self.lock:
            holder = self._delivery()["msgids"].setdefault((tenant_id, msgid), task_id)
            return bool(holder == task_id)

    def take_lease(self, tenant_id: str, name: str, owner: str, *, now: datetime, hold: timedelta) -> bool:
        with self.lock:
            leases = self._delivery()["leases"]
            held = leases.get((tenant_id, name))
            if held is not None and held[0] != owner and held[1] > now:
                return False
            leases[(tenant_id, name)] = (owner, now + hold)
            return True

    def release_lease(self, tenant_id: str, name: str, owner: str) -> None:
        with self.lock:
            leases = self._delivery()["leases"]
            if leases.get((tenant_id, name), (None,))[0] == owner:
                del leases[(tenant_id, name)]
