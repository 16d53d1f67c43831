"""WeCom's own statistics per tenant and local day (与企业微信数据核对); see docs/wecom-statistics.md.

Key: ``T#<tid>#WXSTAT`` / ``D#<YYYY-MM-DD>`` (keys.wecom_stats_pk, keys.wecom_day_sk), the WeComDay as JSON in
``doc``. A fetch of a day replaces its item whole (a plain PutItem): fetching a day again is idempotent, and the
last fetch wins, as WeCom's figures for a day may still settle after it.
"""

from __future__ import annotations

import json

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models_stats import WeComDayItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.metrics.wecom_stats import WeComDay, day_from_doc, day_to_doc


class WeComStatsRepository(DynamoBase):
    def put_wecom_day(self, day: WeComDay) -> None:
        """Store (or replace) the tenant's day."""
        doc = json.dumps(day_to_doc(day), ensure_ascii=False, separators=(",", ":"))
        with translate():
            WeComDayItem(pk=k.wecom_stats_pk(day.tenant_id), sk=k.wecom_day_sk(day.day), doc=doc).save()

    def get_wecom_day(self, tenant_id: str, day: str) -> WeComDay | None:
        item = self.get(WeComDayItem, k.wecom_stats_pk(tenant_id), k.wecom_day_sk(day))
        return None if item is None or not item.doc else day_from_doc(json.loads(item.doc))

    def list_wecom_days(self, tenant_id: str, date_from: str, date_to: str) -> list[WeComDay]:
        """The stored days from ``date_from`` to ``date_to`` (inclusive, local dates), oldest first; missing days
        are absent. One Query: at most a few hundred small items."""
        cond = WeComDayItem.sk.between(k.wecom_day_sk(date_from), k.wecom_day_sk(date_to))
        items, _ = self.query(WeComDayItem, k.wecom_stats_pk(tenant_id), cond)
        return [day_from_doc(json.loads(item.doc)) for item in items if item.doc]
