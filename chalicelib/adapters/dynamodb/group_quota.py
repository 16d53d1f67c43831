"""A group's quota of group messages (WeCom's per-group monthly receive limit, and the tenant's daily caps).

Key: ``T#<tid>#G#<chat_id>`` / ``GQUOTA#<month>`` (keys.group_quota_sk): in the group's own partition, one item a
month. One conditional UpdateItem counts a touch: ``m`` the month's count, ``d#<day>#<content type>`` a capped
day's, and ``tl`` the touches counted (a touch judged again after a crash is not counted twice).
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import QuotaItem
from chalicelib.domain.sop import Touch


def counted(touch: Touch) -> str:
    """How the quota item remembers a counted touch: its bucket and occurrence (unique for the group)."""
    return f"{touch.bucket_id}#{touch.occurrence_key}"


class GroupQuotaRepository(DynamoBase):
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
        """Count one group touch against the group's month (and the capped day): None if counted (or counted
        before, by an earlier judgement of this very touch), else the refusal ("monthly_limit" or "cap")."""
        item = QuotaItem(pk=k.group_pk(tenant_id, chat_id), sk=k.group_quota_sk(month))
        record = counted(touch)
        actions: list[Any] = [
            QuotaItem.m.add(1),
            QuotaItem.kind.set(QuotaItem),
            QuotaItem.tl.set((QuotaItem.tl | []).append([record])),
        ]
        cond = (QuotaItem.m.does_not_exist() | (QuotaItem.m < month_cap)) & (
            QuotaItem.tl.does_not_exist() | ~QuotaItem.tl.contains(record)
        )
        if day_key is not None and day_cap is not None:
            day = Path(k.quota_day_attr(day_key))
            actions.append(day.add(1))
            cond &= day.does_not_exist() | (day < day_cap)
        if self.conditional(lambda: item.update(actions=actions, condition=cond)):
            return None
        held = self.get(QuotaItem, item.pk, item.sk, consistent=True)
        if held is not None and record in (held.tl or []):
            return None
        return "monthly_limit" if held is not None and int(held.m or 0) >= month_cap else "cap"

    def group_quota(self, tenant_id: str, chat_id: str, month: str) -> dict[str, int]:
        """The group's counters of a month (``m``, and ``<day>#<content type>`` per capped day): for tests and
        operators."""
        raw = self.get_raw(k.group_pk(tenant_id, chat_id), k.group_quota_sk(month), consistent=True)
        if raw is None:
            return {}
        out = {"m": int(raw["m"]["N"])} if "m" in raw else {}
        for name, value in raw.items():
            if name.startswith("d#"):
                out[name.removeprefix("d#")] = int(value["N"])
        return out
