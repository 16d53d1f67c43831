"""In-memory WeCom statistics days, with WeComStatsRepository's contract (adapters/dynamodb/wecom_stats.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.metrics.wecom_stats import WeComDay


class FakeWeComStatsStoreMixin:
    lock: Any

    def _wecom_days(self) -> dict[tuple[str, str], WeComDay]:
        if not hasattr(self, "_wecom_day_rows"):
            self._wecom_day_rows: dict[tuple[str, str], WeComDay] = {}
        return self._wecom_day_rows

    def put_wecom_day(self, day: WeComDay) -> None:
        with self.lock:
            self._wecom_days()[(day.tenant_id, day.day)] = day

    def get_wecom_day(self, tenant_id: str, day: str) -> WeComDay | None:
        with self.lock:
            return self._wecom_days().get((tenant_id, day))

    def list_wecom_days(self, tenant_id: str, date_from: str, date_to: str) -> list[WeComDay]:
        with self.lock:
            rows = self._wecom_days()
            return [rows[key] for key in sorted(rows) if key[0] == tenant_id and date_from <= key[1] <= date_to]
