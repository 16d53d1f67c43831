"""The metrics' read side (issue 11 §2-§3): one ``MetricsView`` for a tenant, a range and a dimension, which the
JSON API, the CSV exports and the dashboard all render, so they never disagree.

Every read is by key: the rows are the tenant's configured entities (channels, staff, plans and their steps, groups)
and the range's days, so a read costs the same for 1,000 or 100,000 customers (docs/performance.md). The formulas
are domain/metrics/formulas.py's; this module only gathers counters and lays out the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any, Protocol

from chalicelib.domain import group_facts as gf
from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics import formulas as fm
from chalicelib.domain.metrics.layout import (
    BY,
    PERIODS,
    channel_table,
    cohort_table,
    group_table,
    headlines,
    plan_table,
    product_table,
    staff_table,
    step_table,
)
from chalicelib.domain.metrics.view import FunnelStage, MetricsView, Point, Series, Table
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError
from chalicelib.ports import Clock

LIST_PAGE = 100
MAX_ROWS = 500  # entities of one kind in a view (channels, plans, groups): more are left out, and the table says so


class MetricsStore(Protocol):
    def metric_counters(
        self, tenant_id: str, dimension: str, ids: Iterable[str], dates: Iterable[str]
    ) -> dict[tuple[str, str], dict[str, int]]: ...
    def spend(self, tenant_id: str, channel_ids: Iterable[str], dates: Iterable[str]) -> dict[tuple[str, str], int]: ...
    def metric_day_counters(
        self, tenant_id: str, dimension: str, dimension_id: str, first: str, last: str
    ) -> dict[str, dict[str, int]]: ...
    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Any: ...
    def list_staff(self, tenant_id: str) -> list[Any]: ...
    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Any: ...
    def list_plan_versions(self, tenant_id: str, plan_id: str) -> list[Any]: ...
    def list_groups(self, tenant_id: str, *, cursor: str | None, limit: int) -> Any: ...
    def group_day_counters(self, tenant_id: str, chat_id: str, first: str, last: str) -> dict[str, dict[str, int]]: ...
    def group_members_before(self, tenant_id: str, chat_id: str, date: str) -> int | None: ...


def _all(page_of: Any) -> Iterator[Any]:
    cursor: str | None = None
    seen = 0
    while True:
        page = page_of(cursor)
        for item in page.items:
            seen += 1
            if seen > MAX_ROWS:
                return
            yield item
        cursor = page.next_cursor
        if not cursor:
            return


def days_between(first: str, last: str) -> list[str]:
    try:
        return gf.stats_range(first, last)
    except ValueError as exc:
        raise InvalidError(str(exc)) from exc


def period_of(day: str, period: str) -> str:
    d = date.fromisoformat(day)
    if period == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return day[:7] if period == "month" else day


class MetricsViews:
    def __init__(self, store: MetricsStore, clock: Clock, *, lift: Any = None, crosscheck: Any = None) -> None:
        self.store = store
        self.clock = clock
        self.lift = lift  # (treated enrolled, converted, holdout enrolled, converted) → a Lift, or None
        self.crosscheck = crosscheck  # (tenant, our figures, from, to) → the "crosscheck" Table, or None

    def view(
        self,
        tenant: Tenant,
        *,
        date_from: str | None = None,
        date_to: str | None = None,
        by: str = "channel",
        value: str | None = None,
        period: str = "day",
    ) -> MetricsView:
        if by not in BY:
            raise InvalidError(f"by must be one of {', '.join(BY)}")
        if period not in PERIODS:
            raise InvalidError(f"period must be one of {', '.join(PERIODS)}")
        now = self.clock.now().astimezone(tenant.zone)
        first, last = gf.default_range(now.date().isoformat(), date_from, date_to)
        days = days_between(first, last)
        tid = tenant.tenant_id
        channels = self._channels(tid)
        rows = self._channel_rows(tid, channels, days)
        staff = {s.userid: s.name for s in self.store.list_staff(tid)}
        staff_rows = self._sums(tid, f.STAFF, list(staff), days)
        steps, plans = self._steps(tid)
        step_rows = self._sums(tid, f.STEP, list(steps), days)
        plan_rows = self._sums(tid, f.PLAN, list(plans), days)
        groups = self._groups(tid, days)
        tenant_daily = self._daily(tid, f.TENANT, f.ALL, days)  # one read: the range's sum and the trends
        tenant_day = fm.total(tenant_daily.values())
        cohorts = self._cohorts(tid, rows, days)
        all_channels = fm.total(r["counters"] for r in rows.values())
        uv = sum(r["uv"] for r in rows.values())
        spend = sum(r["spend"] for r in rows.values())
        overall = fm.acquisition(
            all_channels, uv=uv, spend=spend, group_joins=sum(r["group_joins"] for r in rows.values())
        )
        tables: tuple[Table, ...] = (
            channel_table(rows, by),
            step_table(steps, step_rows),
            plan_table(plans, plan_rows, self.lift),
            group_table(groups),
            staff_table(staff, staff_rows),
            cohort_table(cohorts),
            product_table(fm.products(all_channels)),
        )
        if self.crosscheck is not None:
            ours = {
                "adds": all_channels.get(f.ADDS, 0),
                "customer_deletes": all_channels.get(f.LOST_REASON + "lost", 0),
                "group_joins": sum(g["joins"] for _, _, g in groups),
                "group_leaves": sum(g["leaves"] for _, _, g in groups),
                "group_messages": sum(g["messages"] for _, _, g in groups),
            }
            tables = (*tables, self.crosscheck(tenant, ours, first, last))
        return MetricsView(
            tenant_name=tenant.name,
            date_from=first,
            date_to=last,
            by=by,
            dimension_value=value,
            funnel=self._funnel(by, value, rows, plan_rows, groups, staff_rows),
            headlines=headlines(
                overall,
                fm.operations(tenant_day, days=len(days), per_week=self._per_week(tid, days, tenant_daily)),
                fm.churn_shares(all_channels),
            ),
            tables=tables,
            trends=self._trends(tid, rows, tenant_day_by_day=tenant_daily, period=period),
            as_of=now.strftime("%Y-%m-%d %H:%M"),
        )

    # --- gathering ------------------------------------------------------------------------------------------------

    def _channels(self, tid: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in ("standard", "referral"):
            for c in _all(lambda cur, kind=kind: self.store.list_channels(tid, kind=kind, cursor=cur, limit=LIST_PAGE)):
                out[c.channel_id] = c
        return out

    def _sums(self, tid: str, dimension: str, ids: list[str], days: list[str]) -> dict[str, dict[str, int]]:
        found = self.store.metric_counters(tid, dimension, ids, days) if ids else {}
        out: dict[str, dict[str, int]] = {}
        for (i, _), counters in found.items():
            out[i] = fm.total([out.get(i, {}), counters])
        return out

    def _daily(self, tid: str, dimension: str, ident: str, days: list[str]) -> dict[str, dict[str, int]]:
        return {d: c for (_, d), c in self.store.metric_counters(tid, dimension, [ident], days).items()}

    def _per_week(self, tid: str, days: list[str], read: dict[str, dict[str, int]]) -> float | None:
        """Touches per reached customer per week, over the whole ISO weeks the range touches whose distinct count
        the nightly job has made (``MetricsService.count_touched``); ``read``: the tenant's days already read."""
        mondays = sorted(
            {(date.fromisoformat(d) - timedelta(days=date.fromisoformat(d).weekday())).isoformat() for d in days}
        )
        touched = self.store.metric_counters(tid, f.WEEK, [f.ALL], mondays)
        counted = [m for m in mondays if (f.ALL, m) in touched]
        if not counted:
            return None
        week_days = [(date.fromisoformat(m) + timedelta(days=n)).isoformat() for m in counted for n in range(7)]
        daily = {**read, **self._daily(tid, f.TENANT, f.ALL, [d for d in week_days if d not in days])}
        touches = sum(daily[d].get(f.TOUCHES, 0) for d in week_days if d in daily)
        return fm.touches_per_customer_week(touches, sum(touched[(f.ALL, m)].get(f.TOUCHED, 0) for m in counted))

    def _channel_rows(self, tid: str, channels: dict[str, Any], days: list[str]) -> dict[str, dict[str, Any]]:
        ids = [*channels, f.NO_CHANNEL, "rf_legacy", "rf_erased"]
        found = self.store.metric_counters(tid, f.CHANNEL, ids, days)
        spend = self.store.spend(tid, list(channels), days)
        rows: dict[str, dict[str, Any]] = {}
        for cid in ids:
            c = channels.get(cid)
            daily = {d: found[(cid, d)] for d in days if (cid, d) in found}
            older = self.store.metric_day_counters(tid, gf.CHANNEL_DIMENSION, cid, days[0], days[-1]) if c else {}
            if c is None and not daily:
                continue
            rows[cid] = {
                "channel": c,
                "daily": daily,
                "counters": fm.total(daily.values()),
                "uv": sum(v.get("uv", 0) for v in older.values()),
                "uv_daily": {d: v.get("uv", 0) for d, v in older.items()},
                "group_joins": sum(v.get(gf.GROUP_JOINS, 0) for v in older.values()),
                "spend": sum(n for (ch, _), n in spend.items() if ch == cid),
            }
        return rows

    def _steps(self, tid: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
        """Step ids (``plan.version.step`` → plan name, step label) and plan ids (→ name), of every plan."""
        steps: dict[str, tuple[str, str]] = {}
        plans: dict[str, str] = {}
        for head in _all(lambda cur: self.store.list_plans(tid, status=None, cursor=cur, limit=LIST_PAGE)):
            plans[head.plan_id] = head.name
            for plan in self.store.list_plan_versions(tid, head.plan_id):
                for s in plan.steps:
                    label = f"v{plan.version} {s.id}" + (f" {s.title}" if s.title else "")
                    steps[f.step_id(plan.plan_id, plan.version, s.id)] = (plan.name, label)
        return steps, plans

    def _groups(self, tid: str, days: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for g in _all(lambda cur: self.store.list_groups(tid, cursor=cur, limit=LIST_PAGE)):
            counters = self.store.group_day_counters(tid, g.chat_id, days[0], days[-1])
            before = self.store.group_members_before(tid, g.chat_id, days[0])
            out.append((g.chat_id, g.state.name or g.chat_id, fm.group(gf.stats(g.chat_id, days, counters, before))))
        return out

    def _cohorts(self, tid: str, rows: dict[str, dict[str, Any]], days: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Weeks of add within the range: their size (the days' ``new``) and what became of them up to its end."""
        weeks = sorted({period_of(d, "week") for d in days})
        size: dict[str, int] = {}
        for row in rows.values():
            for d, c in row["daily"].items():
                size[period_of(d, "week")] = size.get(period_of(d, "week"), 0) + c.get(f.NEW, 0)
        later = self._sums(tid, f.COHORT, weeks, days)
        return [(w, fm.cohort({**later.get(w, {}), f.ADDS: size.get(w, 0)})) for w in weeks]

    def _funnel(
        self,
        by: str,
        value: str | None,
        rows: dict[str, dict[str, Any]],
        plan_rows: dict[str, dict[str, int]],
        groups: list[tuple[str, str, dict[str, Any]]],
        staff_rows: dict[str, dict[str, int]],
    ) -> tuple[FunnelStage, ...]:
        if by == "plan":
            c = fm.total(r for p, r in plan_rows.items() if value in (None, p))
            arms = fm.plan_arms(c)
            return (
                FunnelStage("enrolled", "入组", arms["enrolled"]),
                FunnelStage("converted", "转化", arms["converted"]),
            )
        if by == "group":
            picked = [g for chat, _, g in groups if value in (None, chat)]
            return (
                FunnelStage("joins", "入群", sum(g["joins"] for g in picked)),
                FunnelStage("members", "期末群成员", sum(g["members_end"] or 0 for g in picked)),
                FunnelStage("checkins", "打卡", sum(g["checkins"] for g in picked)),
            )
        if by == "staff":
            c = fm.total(r for u, r in staff_rows.items() if value in (None, u))
            return (
                FunnelStage("adds", "添加", c.get(f.NEW, 0)),
                FunnelStage("orders", "成交订单", c.get(f.ORDERS, 0)),
            )
        picked_rows = [r for r in rows.values() if value is None or _group_key(r, by) == value]
        c = fm.total(r["counters"] for r in picked_rows)
        return (
            FunnelStage("exposures", "曝光", sum(r["uv"] for r in picked_rows)),
            FunnelStage("adds", "添加好友", c.get(f.NEW, 0)),
            FunnelStage("trial", "体验课", c.get(f.TRIAL_PERSONS, 0)),
            FunnelStage("full", "正价课", c.get(f.FULL_PERSONS, 0)),
        )

    def _trends(
        self, tid: str, rows: dict[str, dict[str, Any]], *, tenant_day_by_day: dict[str, dict[str, int]], period: str
    ) -> tuple[Series, ...]:
        by_period: dict[str, dict[str, int]] = {}
        for row in rows.values():
            for d, c in row["daily"].items():
                by_period[period_of(d, period)] = fm.total([by_period.get(period_of(d, period), {}), c])
            for d, uv in row["uv_daily"].items():
                slot = by_period.setdefault(period_of(d, period), {})
                slot["uv"] = slot.get("uv", 0) + uv
        for d, c in tenant_day_by_day.items():
            by_period[period_of(d, period)] = fm.total([by_period.get(period_of(d, period), {}), c])
        periods = sorted(by_period)
        spec = (
            ("new", "新增客户", "count", lambda c: c.get(f.NEW, 0)),
            ("lost", "流失", "count", lambda c: c.get(f.LOST, 0)),
            ("orders", "订单", "count", lambda c: c.get(f.ORDERS, 0)),
            ("gmv", "GMV", "money", lambda c: c.get(f.REVENUE, 0)),
            ("add_rate", "添加率", "rate", lambda c: fm.ratio(c.get(f.ADDS, 0), c.get("uv", 0))),
            ("touches", "触达", "count", lambda c: c.get(f.TOUCHES, 0)),
            ("active", "活跃客户", "count", lambda c: c.get(f.ACTIVE, 0)),
        )
        return tuple(
            Series(key, label, kind, tuple(Point(p, fn(by_period[p])) for p in periods))
            for key, label, kind, fn in spec
        )


def _group_key(row: dict[str, Any], by: str) -> str:
    c = row["channel"]
    if by == "campaign":
        return (c.campaign if c else "") or "-"
    if by == "source":
        return (c.source if c else "") or "-"
    return c.channel_id if c else f.NO_CHANNEL
