"""Groups (社群): groups by cohort, the live codes' rotation, camp calendars and leaderboards (issue 13 §2).
Reads only (services/group_board.py); a staff session sees the groups it owns or administers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from chalice import Blueprint

from chalicelib.console import ops_labels as labels
from chalicelib.console.home import can_open_dashboard
from chalicelib.console.pages import Html, PageCtx, PageResult, page
from chalicelib.domain.groups import GROUP_TYPES
from chalicelib.domain.tenants import Role
from chalicelib.services.groups.setup import GroupFilter

if TYPE_CHECKING:
    from chalicelib.services.group_board import GroupBoard

bp = Blueprint(__name__)

LIMIT = 50
FILTERS = ("type", "cohort", "status")


def board(pc: PageCtx) -> GroupBoard:
    """The group reads, imported on first use: ``import app`` (every cold start) does not pay for them."""
    from chalicelib.services.group_board import board_of

    return board_of(pc.svc)


@page(bp, "/console/{tenant_id}/groups", role=Role.VIEWER, summary="Groups by cohort, live codes, camp plans")
def groups(pc: PageCtx, tenant_id: str) -> PageResult:
    values = {k: pc.query.get(k, "").strip() for k in FILTERS}
    flt = GroupFilter(
        type=values["type"] if values["type"] in GROUP_TYPES else None,
        cohort=values["cohort"] or None,
        status=values["status"] if values["status"] in labels.GROUP_STATUS else None,
        staff=pc.staff_scope,
    )
    overview = board(pc).overview(tenant_id, flt, cursor=pc.query.get("cursor") or None, limit=LIMIT)
    kept = {k: v for k, v in values.items() if v}
    more = f"?{urlencode({**kept, 'cursor': overview.next_cursor})}" if overview.next_cursor else None
    return Html(
        "groups/index.html",
        {
            "title": "社群",
            "active": "/groups",
            "o": overview,
            "values": values,
            "next_url": more,
            "type_options": labels.GROUP_TYPE_CHOICES,
            "type_names": GROUP_TYPES,
            "status_options": list(labels.GROUP_STATUS.items()),
            "status_names": labels.GROUP_STATUS,
            "can_dashboard": can_open_dashboard(pc),
        },
    )


@page(bp, "/console/{tenant_id}/groups/{chat_id}", role=Role.VIEWER, summary="A group and its leaderboard")
def group(pc: PageCtx, tenant_id: str, chat_id: str) -> PageResult:
    found = board(pc).group(tenant_id, chat_id, staff=pc.staff_scope)
    context: dict[str, Any] = {"title": "社群详情", "active": "/groups", "type_names": GROUP_TYPES, **found}
    context["status_names"] = labels.GROUP_STATUS
    context["can_dashboard"] = can_open_dashboard(pc)
    return Html("groups/group.html", context)


@page(bp, "/console/{tenant_id}/groups/camps/{plan_id}", role=Role.VIEWER, summary="A camp plan's calendar by day")
def camp(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    start = pc.query.get("start", "").strip() or None
    cal = board(pc).calendar(pc.tenant, plan_id, start)
    context = {"title": "训练营日历", "active": "/groups", **cal}
    return Html("groups/camp.html", {**context, "outcomes": labels.CAMP_OUTCOMES, "deferrals": labels.DEFERRALS})
