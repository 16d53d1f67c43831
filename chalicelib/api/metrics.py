"""Funnel and operations metrics (issue 11 §3, §5): the funnel with every table, a metric's time series, the
cohort table, CSV exports, a channel's spend, and the rebuild from the fact log."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.metrics.export import to_csv
from chalicelib.domain.metrics.layout import BY, PERIODS
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError, NotFoundError

bp = Blueprint(__name__)

DAY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "description": "a local date YYYY-MM-DD in the tenant's timezone",
}
RANGE: dict[str, dict[str, Any]] = {
    "from": DAY,
    "to": DAY,
    "by": {"enum": list(BY), "description": "the funnel's dimension (default channel)"},
    "value": {"type": "string", "maxLength": 200, "description": "one value of `by` to draw the funnel for"},
    "period": {"enum": list(PERIODS), "description": "the trends' period (default day)"},
}


def view_of(ctx: Ctx) -> MetricsView:
    a = ctx.args
    return services().metrics.view(
        ctx.tenant,
        date_from=a.get("from"),
        date_to=a.get("to"),
        by=a.get("by") or "channel",
        value=a.get("value"),
        period=a.get("period") or "day",
    )


def as_json(view: MetricsView) -> dict[str, Any]:
    """The view as the API answers it: the same numbers as the dashboard and the CSV exports."""
    return {
        "from": view.date_from,
        "to": view.date_to,
        "by": view.by,
        "value": view.dimension_value,
        "as_of": view.as_of,
        "funnel": [{"key": s.key, "label": s.label, "value": s.value} for s in view.funnel],
        "headlines": {h.key: h.value for h in view.headlines},
        "tables": {t.key: t.as_dicts() for t in view.tables},
        "trends": {s.key: [{"period": p.period, "value": p.value} for p in s.points] for s in view.trends},
    }


@route(
    bp,
    "/t/{tenant_id}/metrics/funnel",
    "GET",
    summary="The funnel for a range (local dates, at most 92 days; default the last 7) by a dimension, with the "
    "headline figures, every table (channels, steps, plans with lift, groups, staff, cohorts, products, the WeCom "
    "cross-check) and the trends: docs/metrics.md defines each figure",
    auth="tenant",
    role=Role.VIEWER,
    query=RANGE,
    tag="metrics",
)
def funnel(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return as_json(view_of(ctx))


@route(
    bp,
    "/t/{tenant_id}/metrics/series",
    "GET",
    summary="One metric's time series by day, week or month (new, lost, orders, gmv, add_rate, touches, active)",
    auth="tenant",
    role=Role.VIEWER,
    query={**RANGE, "metric": {"type": "string", "maxLength": 40, "description": "a trend's key"}},
    tag="metrics",
)
def series(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    view = view_of(ctx)
    wanted = ctx.args.get("metric")
    picked = [s for s in view.trends if wanted in (None, s.key)]
    if not picked:
        raise InvalidError(f"metric must be one of {', '.join(s.key for s in view.trends)}")
    return {
        "from": view.date_from,
        "to": view.date_to,
        "period": ctx.args.get("period") or "day",
        "series": [
            {"key": s.key, "label": s.label, "points": [{"period": p.period, "value": p.value} for p in s.points]}
            for s in picked
        ],
    }


@route(
    bp,
    "/t/{tenant_id}/metrics/cohorts",
    "GET",
    summary="Retention and conversion by week of add, for the weeks of the range",
    auth="tenant",
    role=Role.VIEWER,
    query=RANGE,
    tag="metrics",
)
def cohorts(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    view = view_of(ctx)
    table = view.table("cohorts")
    return {"from": view.date_from, "to": view.date_to, "cohorts": table.as_dicts() if table else []}


@route(
    bp,
    "/t/{tenant_id}/metrics/export/{table}",
    "GET",
    summary="One table as CSV (UTF-8 with a BOM, so Excel shows the Chinese headings): `channels.csv`, "
    "`steps.csv`, `plans.csv`, `groups.csv`, `staff.csv`, `cohorts.csv`, `products.csv`, `crosscheck.csv`",
    auth="tenant",
    role=Role.VIEWER,
    query=RANGE,
    tag="metrics",
)
def export(ctx: Ctx, tenant_id: str, table: str) -> Response:
    return csv_response(view_of(ctx), table)


def csv_response(view: MetricsView, name: str) -> Response:
    key = name.removesuffix(".csv")
    table = view.table(key)
    if table is None or not name.endswith(".csv"):
        raise NotFoundError(f"no table {name}: one of {', '.join(t.key + '.csv' for t in view.tables)}")
    filename = f"{key}_{view.date_from}_{view.date_to}.csv"
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
    return Response(
        body=to_csv(table).decode("utf-8"), status_code=200, headers=headers
    )  # a text body: UTF-8 on the wire


@route(
    bp,
    "/t/{tenant_id}/channels/{channel_id}/spend/{date}",
    "PUT",
    summary="Set a channel's spend (投放成本) on one local day, in yuan: CAC and ROI read it (the latest value stands)",
    auth="tenant",
    role=Role.OPS,
    body="metrics_spend",
    tag="metrics",
)
def put_spend(ctx: Ctx, tenant_id: str, channel_id: str, date: str) -> dict[str, Any]:
    return services().metrics.set_spend(ctx.tenant, channel_id, date, float(ctx.body["amount"]))


@route(
    bp,
    "/t/{tenant_id}/metrics/rebuild",
    "POST",
    summary="Recompute the counters of a range (at most 92 days) from the fact log: after a crash left some short",
    auth="tenant",
    role=Role.ADMIN,
    body="metrics_rebuild",
    tag="metrics",
)
def rebuild(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().metrics.rebuild(ctx.tenant, ctx.body["from"], ctx.body["to"])
