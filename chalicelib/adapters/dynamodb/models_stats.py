"""PynamoDB models of the metrics' items kept apart from models.py (at its size limit); same table, same base."""

from __future__ import annotations

from chalicelib.adapters.dynamodb.models import SiyuItem


class WeComDayItem(SiyuItem, discriminator="wecom_day"):
    """WeCom's statistics of one tenant-local day (``doc`` JSON: domain/metrics/wecom_stats.py's WeComDay)."""
