"""Groups (社群): groups by cohort, the live codes' rotation, camp calendars and leaderboards (issue 13 §2).
Reads only (services/group_board.py); a staff session sees the groups it owns or administers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from chalice import Blueprint

from chalicelib.console import group_forms
from chalicelib.console import ops_labels as labels
from chalicelib.console.group_forms import Form
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


def can_edit(pc: PageCtx) -> bool:
    """Whether this session may use the group forms (the API's writes need ops): pages show them only then."""
    return pc.session is not None and pc.session.role_enum.at_least(Role.OPS)


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
            "can_edit": can_edit(pc),
        },
    )


@page(bp, "/console/{tenant_id}/groups/{chat_id}", role=Role.VIEWER, summary="A group, its setup and leaderboard")
def group(pc: PageCtx, tenant_id: str, chat_id: str) -> PageResult:
    return group_page(pc, chat_id, None)


def group_page(pc: PageCtx, chat_id: str, form: Form | None, status: int = 200) -> Html:
    """A group's page; ``form`` is a refused setup form to show again (None: the group's own setup)."""
    found = board(pc).group(pc.tenant_id, chat_id, staff=pc.staff_scope)
    context: dict[str, Any] = {"title": "社群详情", "active": "/groups", "type_names": GROUP_TYPES, **found}
    context["status_names"] = labels.GROUP_STATUS
    context["can_dashboard"] = can_open_dashboard(pc)
    context["can_edit"] = can_edit(pc)
    context["form"] = form or group_forms.setup_of(found["group"])
    context["type_options"] = labels.GROUP_TYPE_CHOICES
    return Html("groups/group.html", context, status=status)


@page(bp, "/console/{tenant_id}/groups/camps/{plan_id}", role=Role.VIEWER, summary="A camp plan's calendar by day")
def camp(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return camp_page(pc, plan_id, pc.query.get("start", "").strip() or None, None)


def camp_page(pc: PageCtx, plan_id: str, start: str | None, error: str | None, status: int = 200) -> Html:
    """A camp plan's calendar, and (published, ops) the form enrolling its groups; ``error`` a refused one's."""
    cal = board(pc).calendar(pc.tenant, plan_id, start)
    context = {"title": "训练营日历", "active": "/groups", **cal, "can_edit": can_edit(pc), "error": error}
    context["refusals"] = group_forms.REFUSALS
    context["type_names"] = GROUP_TYPES
    return Html(
        "groups/camp.html",
        {**context, "outcomes": labels.CAMP_OUTCOMES, "deferrals": labels.DEFERRALS},
        status=status,
    )
