"""In-memory silence timers with the same conditional semantics as SilenceRepository."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.silence import SilenceTimer


class FakeSilenceStoreMixin:
    lock: Any

    def _timers(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """(tenant, customer, plan) → {"timer": SilenceTimer, "claim": str | None, "lease": str | None}."""
        if not hasattr(self, "_timer_state"):
            self._timer_state: dict[tuple[str, str, str], dict[str, Any]] = {}
        return self._timer_state

    def put_silence_timer(self, tenant_id: str, timer: SilenceTimer) -> bool:
        with self.lock:
            key = (tenant_id, timer.customer_id, timer.plan_id)
            current = self._timers().get(key)
            if current is not None and current["timer"].enrollment_id == timer.enrollment_id:
                return False
            self._timers()[key] = {"timer": replace(timer, claimed_at=None), "claim": None, "lease": None}
            return True

    def silence_timers_of(self, tenant_id: str, customer_id: str) -> list[SilenceTimer]:
        return sorted(
            (r["timer"] for (t, c, _), r in self._timers().items() if (t, c) == (tenant_id, customer_id)),
            key=lambda timer: timer.plan_id,
        )

    def move_silence_timer(self, tenant_id: str, timer: SilenceTimer, due: str) -> bool:
        with self.lock:
            row = self._timers().get((tenant_id, timer.customer_id, timer.plan_id))
            if row is None or row["timer"].enrollment_id != timer.enrollment_id:
                return False
            if row["timer"].due >= due or row["claim"] is not None:
                return False
            row["timer"] = replace(row["timer"], due=due)
            return True

    def due_silence_timers(self, tenant_id: str, *, day: str, until: str) -> list[SilenceTimer]:
        rows = [
            r["timer"]
            for (t, _, _), r in self._timers().items()
            if t == tenant_id and r["timer"].due[:10] == day and r["timer"].due <= until
        ]
        return sorted(rows, key=lambda timer: (timer.due, timer.customer_id, timer.plan_id))

    def claim_silence_timer(
        self, tenant_id: str, timer: SilenceTimer, *, token: str, now: str, lease_until: str
    ) -> SilenceTimer | None:
        with self.lock:
            row = self._timers().get((tenant_id, timer.customer_id, timer.plan_id))
            if row is None or row["timer"].enrollment_id != timer.enrollment_id or row["timer"].due != timer.due:
                return None
            if row["lease"] is not None and row["lease"] >= now:
                return None
            row["claim"], row["lease"] = token, lease_until
            row["timer"] = replace(row["timer"], claimed_at=row["timer"].claimed_at or now)
            claimed: SilenceTimer = row["timer"]
            return claimed

    def delete_silence_timer(self, tenant_id: str, timer: SilenceTimer, *, token: str) -> bool:
        with self.lock:
            key = (tenant_id, timer.customer_id, timer.plan_id)
            row = self._timers().get(key)
            if row is None or row["claim"] != token:
                return False
            del self._timers()[key]
            return True

    def repin_silence_timer(self, tenant_id: str, timer: SilenceTimer, to: SilenceTimer | None) -> bool:
        with self.lock:
            key = (tenant_id, timer.customer_id, timer.plan_id)
            row = self._timers().get(key)
            if row is None or row["timer"].enrollment_id != timer.enrollment_id or row["claim"] is not None:
                return False
            if to is None:
                del self._timers()[key]
            else:
                row["timer"] = replace(to, claimed_at=None)
            return True
