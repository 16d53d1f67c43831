"""The console's home: ops see today's headline numbers (one metrics read) and the way to every page; staff go to
"My day". ``/dashboard`` makes a short-lived dashboard link and sends the browser to it, so every page with numbers
links to the dashboard through one URL (issue 13 §2)."""

from __future__ import annotations

from urllib.parse import urlencode

from chalice import Blueprint

from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)
DASHBOARD_PARAMS = ("from", "to", "by", "value", "period")  # the dashboard page's own query (api/dashboard.py)

# Today's figures the overview shows large, by the metrics view's headline keys (docs/metrics.md).
HEADLINES = ("new", "lost", "messages", "touches", "tasks_created", "gmv")
DASHBOARD_ROLE = Role.OPS  # as the JSON API's dashboard links
DASHBOARD_TTL_HOURS = 1  # the link the console makes is opened at once; a short life keeps a leaked one harmless


@page(bp, "/console/{tenant_id}", role=Role.VIEWER, summary="Home: today's numbers (ops), My day (staff)")
def home(pc: PageCtx, tenant_id: str) -> PageResult:
    if pc.staff_scope is not None:
        return Redirect(f"{pc.base}/my")
    from chalicelib.web.format import cell  # here: `import app` does not pay for it

    view = pc.svc.metrics.today(pc.tenant)
    shown = {h.key: h for h in view.headlines}
    figures = [(shown[k].label, cell(shown[k].value, shown[k].kind)) for k in HEADLINES if k in shown]
    funnel = [(s.label, s.value) for s in view.funnel]
    context = {"title": "概览", "active": "", "tenant": pc.tenant.public(), "view": view}
    context["can_dashboard"] = can_open_dashboard(pc)
    return Html("home.html", {**context, "figures": figures, "funnel": funnel})


def can_open_dashboard(pc: PageCtx) -> bool:
    """Whether this session's links to /dashboard open it (the dashboard page's role): pages show them only then."""
    return pc.session is not None and pc.session.role_enum.at_least(DASHBOARD_ROLE)


@page(bp, "/console/{tenant_id}/dashboard", role=DASHBOARD_ROLE, summary="Open the dashboard (a short-lived link)")
def dashboard(pc: PageCtx, tenant_id: str) -> PageResult:
    link = pc.svc.dashboard.create_link(tenant_id, ttl_hours=DASHBOARD_TTL_HOURS, created_by=pc.actor)
    # What the page linking here asked for (a channel's row: by=channel&value=<id>); the dashboard checks it.
    view = {k: v for k, v in pc.query.items() if k in DASHBOARD_PARAMS and v and len(v) <= 128}
    return Redirect(f"{link['url']}&{urlencode(view)}" if view else link["url"])
