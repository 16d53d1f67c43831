"""The dashboard (issue 11 §4): ``POST /t/{tenant_id}/dashboard-links`` makes a short-lived link (ops or admin
token); ``GET /t/{tenant_id}/dashboard?k=…`` is the page, opened by the link alone (no Authorization header).

The page route is declared ``auth="public"`` because the link authenticates it (services/dashboard.py), and it
reads its own query (``strict_query=False``): every answer it gives is an HTML page, a refused link a 403 page, a
bad parameter a 400 page saying what is wrong, never JSON and never a 500 for bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import Services, services
from chalicelib.domain.dashboard import DEFAULT_TTL_HOURS
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError, SiyuError
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.services.dashboard import DashboardService

bp = Blueprint(__name__)

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Nothing but the page itself: inline CSS and data: images; no script, no frame, no other origin, no <base>.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}


def dashboard(svc: Services) -> DashboardService:
    """The wired dashboard service (links and the page's one metrics read)."""
    return svc.dashboard


@route(
    bp,
    "/t/{tenant_id}/dashboard-links",
    "POST",
    summary="A short-lived link that opens the dashboard without a token (ttl_hours 1-168, default 24)",
    auth="tenant",
    role=Role.OPS,
    body="dashboard_link_create",
    status=201,
    tag="dashboard",
)
def create_dashboard_link(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    ttl = int(ctx.body.get("ttl_hours", DEFAULT_TTL_HOURS))
    return dashboard(services()).create_link(tenant_id, ttl_hours=ttl, created_by=ctx.actor)


@route(
    bp,
    "/t/{tenant_id}/dashboard-links",
    "GET",
    summary="The dashboard links that still open the page (never their keys)",
    auth="tenant",
    role=Role.OPS,
    tag="dashboard",
)
def list_dashboard_links(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return {"items": dashboard(services()).list_links(tenant_id), "next_cursor": None}


@route(
    bp,
    "/t/{tenant_id}/dashboard-links/{link_id}",
    "DELETE",
    summary="Revoke a dashboard link: it answers 403 from the next request on",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="dashboard",
)
def revoke_dashboard_link(ctx: Ctx, tenant_id: str, link_id: str) -> None:
    dashboard(services()).revoke_link(tenant_id, link_id)


@route(
    bp,
    "/t/{tenant_id}/dashboard",
    "GET",
    summary="The dashboard page (HTML), opened by a dashboard link's k; from, to (YYYY-MM-DD, at most 92 days), "
    "by (channel|campaign|source|plan|group|staff), period (day|week|month)",
    auth="public",
    tag="dashboard",
    strict_query=False,
)
def dashboard_page(ctx: Ctx, tenant_id: str) -> Response:
    from chalicelib.services.dashboard import LinkRefusedError
    from chalicelib.web.dashboard import PageLinks, render, render_error

    try:
        page = dashboard(services()).open(tenant_id, ctx.query)
        links = PageLinks(tenant_id, page.key, page.query.period, page.query.value)
        return _html(render(page.view, links=links), 200)
    except LinkRefusedError as exc:
        logger.warning("dashboard link refused", extra={"tenant": tenant_id, "expired": exc.expired})
        message = "此看板链接已过期。" if exc.expired else "此看板链接无效，或不属于这个机构。"
        return _html(render_error(403, message), 403)
    except InvalidError as exc:
        return _html(render_error(400, exc.message), 400)
    except SiyuError as exc:
        logger.error("dashboard failed", extra={"tenant": tenant_id, "code": exc.code})
        return _html(render_error(exc.status, "看板暂时无法显示，请稍后再试。", title="出错了"), exc.status)
    except Exception:
        logger.exception("dashboard failed", extra={"tenant": tenant_id})
        return _html(render_error(500, "看板暂时无法显示，请稍后再试。", title="出错了"), 500)


@route(
    bp,
    "/t/{tenant_id}/dashboard/export/{table}",
    "GET",
    summary="A dashboard table as CSV (UTF-8 with a BOM), opened by the page's link (k) as the page is; the same "
    "query as the page, e.g. channels.csv?from=…&to=…&by=…&k=…",
    auth="public",
    tag="dashboard",
    strict_query=False,
)
def dashboard_export(ctx: Ctx, tenant_id: str, table: str) -> Response:
    from chalicelib.api.metrics import csv_response

    page = dashboard(services()).open(tenant_id, ctx.query)  # the link first (403), then the query (400)
    return csv_response(page.view, table)


def _html(body: str, status: int) -> Response:
    return Response(body=body, status_code=status, headers=dict(PAGE_HEADERS))
