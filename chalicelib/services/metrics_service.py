"""The metrics' operations (issue 11 §3, §5): the view every surface renders, a channel's spend, and the rebuild
of a range's counters from the fact log (by hand, and nightly for the days just closed)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.domain.instants import utc_key
from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics.crosscheck import crosscheck_table
from chalicelib.domain.metrics.facts import MetricFact, fold
from chalicelib.domain.metrics.lift import lift
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.domain.sop import CUSTOMER
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.ports import Clock
from chalicelib.services.channel_board import ChannelBoard, channel_board
from chalicelib.services.metrics_views import MetricsStore, MetricsViews, days_between
from chalicelib.services.recent_adds import RecentAddsRepo, recent_adds

PAGE = 100  # tasks a page, counting a week's reached customers
REACHED = frozenset({"created", "sent", "confirmed", "snoozed", "done"})  # a task's statuses once WeCom held it
NIGHTLY_AFTER_HOUR = 1  # local: yesterday and the day before are rebuilt once, after 01:00 (late facts settled)
MAX_SPEND_FEN = 10_000_000_000  # ¥100,000,000 a day: anything above is a typo


class RebuildStore(MetricsStore, RecentAddsRepo, Protocol):
    def metric_fact_log(self, tenant_id: str, date: str) -> list[MetricFact]: ...
    def replace_metric_counters(
        self, tenant_id: str, date: str, counters: dict[tuple[str, str], dict[str, int]]
    ) -> None: ...
    def put_spend(self, tenant_id: str, channel_id: str, date: str, fen: int) -> None: ...
    def get_channel(self, tenant_id: str, channel_id: str) -> Any: ...
    def mark_metrics_rebuilt(self, tenant_id: str, date: str) -> bool: ...
    def page_tasks(self, tenant_id: str, **filters: Any) -> Any: ...


class MetricsService:
    def __init__(self, store: RebuildStore, clock: Clock, wecom_stats: Any = None, recorder: Any = None) -> None:
        self.store = store
        self.clock = clock
        self.recorder = recorder  # the writer (services/metrics.py), for the catch-up of adds
        crosscheck = None
        if wecom_stats is not None:

            def crosscheck(tenant: Tenant, ours: dict[str, int], first: str, last: str) -> Any:
                return crosscheck_table(wecom_stats.compare(tenant, ours, first, last))

        self.views = MetricsViews(store, clock, lift=lift, crosscheck=crosscheck)

    def view(self, tenant: Tenant, **kwargs: Any) -> MetricsView:
        return self.views.view(tenant, **kwargs)

    def channel_board(self, tenant: Tenant, *, kind: str, cursor: str | None, limit: int) -> ChannelBoard:
        """A page of channels with today's adds and their CAC (the console's channel list)."""
        return channel_board(self.store, self.clock, tenant, kind=kind, cursor=cursor, limit=limit)

    def today(self, tenant: Tenant) -> MetricsView:
        """Today's figures (tenant-local day, by the Clock port): the console's overview reads this one view."""
        day = self.clock.now().astimezone(tenant.zone).date().isoformat()
        return self.views.view(tenant, date_from=day, date_to=day)

    def set_spend(self, tenant: Tenant, channel_id: str, day: str, yuan: float) -> dict[str, Any]:
        """A channel's spend on one local day (the latest value stands; 0 clears it)."""
        try:
            date.fromisoformat(day)
        except ValueError as exc:
            raise InvalidError(f"{day!r} is not a date YYYY-MM-DD") from exc
        fen = round(yuan * 100)
        if not 0 <= fen <= MAX_SPEND_FEN:
            raise InvalidError("amount must be between 0 and 100000000 yuan")
        if self.store.get_channel(tenant.tenant_id, channel_id) is None:
            raise NotFoundError(f"channel {channel_id} does not exist")
        self.store.put_spend(tenant.tenant_id, channel_id, day, fen)
        return {"channel_id": channel_id, "date": day, "amount": fen / 100}

    def rebuild(self, tenant: Tenant, date_from: str, date_to: str) -> dict[str, Any]:
        """Recompute every day's counters of the range from its fact log and write them whole: what a crash
        between a fact's log entry and its counters left short is counted again; nothing is counted twice."""
        days = days_between(date_from, date_to)
        facts = items = 0
        for day in days:
            log = self.store.metric_fact_log(tenant.tenant_id, day)
            counters = {(d, i): c for (d, i, _), c in fold(log).items()}
            self.store.replace_metric_counters(tenant.tenant_id, day, counters)
            facts += len(log)
            items += len(counters)
        return {"from": days[0], "to": days[-1], "days": len(days), "facts": facts, "counters": items}

    def catch_up(self, tenant: Tenant) -> int:
        """The backstop's: count the adds of customers added 2-15 minutes ago whose callback died before counting
        them (the customer index by add time, as the intake's own catch-up reads it)."""
        if self.recorder is None:
            return 0
        pages = recent_adds(self.store, tenant.tenant_id, self.clock.now())
        return sum(self.recorder.catch_up_adds(tenant, customers) for customers in pages)

    def count_touched(self, tenant: Tenant, monday: date) -> int:
        """The distinct customers the staff tasks due in the ISO week from ``monday`` reached (those WeCom holds or
        held: created, sent, confirmed, snoozed, done), written as the week's ``touched`` (replaced, so a recount is
        the same): what touches per customer per week divide by. Reads the week's tasks, not its customers."""
        start = datetime.combine(monday, time(0, 0), tenant.zone)
        bounds = {"due_from": utc_key(start), "due_to": utc_key(start + timedelta(days=7) - timedelta(microseconds=1))}
        reached: set[str] = set()
        cursor: str | None = None
        while True:
            page = self.store.page_tasks(
                tenant.tenant_id, userid=None, status=None, cursor=cursor, limit=PAGE, **bounds
            )
            for task in page.items:
                # A Moments step's task (moment) reaches its customers as a mass task does.
                if task.kind in ("mass", "moment") and task.recipient_kind == CUSTOMER and task.status in REACHED:
                    reached.update(task.recipients)
            cursor = page.next_cursor
            if not cursor:
                break
        counters = {(f.WEEK, f.ALL): {f.TOUCHED: len(reached)}}
        self.store.replace_metric_counters(tenant.tenant_id, monday.isoformat(), counters)
        return len(reached)

    def rebuild_due(self, tenant: Tenant) -> dict[str, Any] | None:
        """The nightly rebuild: once local 01:00 has passed, yesterday and the day before, once per night."""
        now = self.clock.now().astimezone(tenant.zone)
        if now.hour < NIGHTLY_AFTER_HOUR:
            return None
        yesterday = (now.date() - timedelta(days=1)).isoformat()
        if not self.store.mark_metrics_rebuilt(tenant.tenant_id, yesterday):
            return None
        report = self.rebuild(tenant, (now.date() - timedelta(days=2)).isoformat(), yesterday)
        last = now.date() - timedelta(days=1)
        for monday in sorted({last - timedelta(days=last.weekday()), now.date() - timedelta(days=now.weekday())}):
            report[f"touched {monday.isoformat()}"] = self.count_touched(tenant, monday)
        return report
