"""The funnel metrics' item types (issue 11), beside models.py (kept under its size): the fact log entry, a
person's first-occurrence marker, a channel's day spend, a dashboard link. Imported with the store, so
``models.configure`` gives them the shared connection as it does every SiyuItem."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.adapters.dynamodb.models import SiyuItem


class MetricLogItem(SiyuItem, discriminator="metric_log"):
    """A counted fact: its type, time and the counter ADDs it made (JSON), nothing about the person."""

    doc = UnicodeAttribute()


class MetricFirstItem(SiyuItem, discriminator="metric_first"):
    """A person's first occurrence in a scope; ``ref`` is the fact that claimed it (its own replay still wins it)."""

    ref = UnicodeAttribute()


class SpendItem(SiyuItem, discriminator="spend"):
    """A channel's spend on one local day, in fen."""

    fen = NumberAttribute()


class DashboardLinkItem(SiyuItem, discriminator="dashboard_link"):
    """A dashboard link (adapters/dynamodb/dashboard.py): its key's hash in ``sk``, the link in ``doc``, TTL."""
