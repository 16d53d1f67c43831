"""The console's channel list (渠道活码): each channel with today's adds and its CAC over the dashboard's default
range (the last 7 days, today included), so the number a row shows is the number its dashboard link opens on.

Read side only, by key: one page of channels, then one batch read of their day counters and one of their spend for
the range — never a scan, whatever the number of customers (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain import group_facts as gf
from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics import formulas as fm
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import Clock
from chalicelib.services.metrics_views import MetricsStore


@dataclass(frozen=True)
class ChannelRow:
    channel: Any  # domain.channels.Channel
    adds_today: int
    new_today: int
    new: int  # new customers over the range
    spend_fen: int  # spend over the range
    cac_fen: float | None  # spend / new customers over the range (None: no new customer)


@dataclass(frozen=True)
class ChannelBoard:
    rows: list[ChannelRow]
    next_cursor: str | None
    today: str
    date_from: str  # the range the CAC covers: date_from .. today


def channel_board(
    store: MetricsStore, clock: Clock, tenant: Tenant, *, kind: str, cursor: str | None, limit: int
) -> ChannelBoard:
    tid = tenant.tenant_id
    today = clock.now().astimezone(tenant.zone).date().isoformat()
    first, last = gf.default_range(today, None, None)
    days = gf.stats_range(first, last)
    page = store.list_channels(tid, kind=kind, cursor=cursor, limit=limit)
    ids = [c.channel_id for c in page.items]
    counters = store.metric_counters(tid, f.CHANNEL, ids, days) if ids else {}
    spend = store.spend(tid, ids, days) if ids else {}
    rows = []
    for channel in page.items:
        cid = channel.channel_id
        total = fm.total(counters[(cid, d)] for d in days if (cid, d) in counters)
        day = counters.get((cid, today), {})
        spent = sum(n for (ch, _), n in spend.items() if ch == cid)
        new = total.get(f.NEW, 0)
        rows.append(ChannelRow(channel, day.get(f.ADDS, 0), day.get(f.NEW, 0), new, spent, fm.ratio(spent, new)))
    return ChannelBoard(rows, page.next_cursor, today, first)
