"""In-memory group quotas, with GroupQuotaRepository's contract (adapters/dynamodb/group_quota.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.sop import Touch


class FakeGroupQuotaStoreMixin:
    lock: Any

    def _group_quotas(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        if not hasattr(self, "_group_quota_rows"):
            self._group_quota_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        return self._group_quota_rows

    def take_group_quota(
        self,
        tenant_id: str,
        chat_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int,
        touch: Touch,
    ) -> str | None:
        with self.lock:
            row = self._group_quotas().setdefault((tenant_id, chat_id, month), {"tl": set()})
            record = f"{touch.bucket_id}#{touch.occurrence_key}"
            if record in row["tl"]:
                return None  # counted already (as DynamoDB's condition on the month's records)
            if row.get("m", 0) >= month_cap:
                return "monthly_limit"
            if day_key is not None and day_cap is not None and row.get(day_key, 0) >= day_cap:
                return "cap"
            row["m"] = row.get("m", 0) + 1
            if day_key is not None and day_cap is not None:
                row[day_key] = row.get(day_key, 0) + 1
            row["tl"].add(record)
            return None

    def group_quota(self, tenant_id: str, chat_id: str, month: str) -> dict[str, int]:
        with self.lock:
            row = self._group_quotas().get((tenant_id, chat_id, month), {})
            return {k: v for k, v in row.items() if k != "tl"}
