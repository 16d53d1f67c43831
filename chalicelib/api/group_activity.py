"""Group member activity (active / silent) and the group's day counters for metrics (issue 10 §4, §7)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.group_facts import MAX_WINDOW_DAYS
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)

SETTINGS = "/t/{tenant_id}/settings/group-activity"
WINDOW = {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_DAYS, "description": "days; the tenant's default"}
DAY = {"type": "string", "format": "date", "description": "a local date YYYY-MM-DD in the tenant's timezone"}


@route(
    bp,
    "/t/{tenant_id}/groups/{chat_id}/activity",
    "GET",
    summary="Active members of a group (spoke within the window, newest first) and its silent count",
    auth="tenant",
    role=Role.VIEWER,
    query={"window_days": WINDOW},
    tag="groups",
)
def group_activity(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return services().group_facts.activity(ctx.tenant, chat_id, ctx.args.get("window_days"))


@route(
    bp,
    "/t/{tenant_id}/groups/{chat_id}/stats",
    "GET",
    summary="A group's day counters (joins and leaves by scene, members, speakers, messages, check-ins, task "
    "completers, joins with a staff account) from `from` to `to` (local dates, at most 92 days; default the last 7)",
    auth="tenant",
    role=Role.VIEWER,
    query={"from": DAY, "to": DAY},
    tag="groups",
)
def group_stats(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return services().group_facts.stats(ctx.tenant, chat_id, ctx.args.get("from"), ctx.args.get("to"))


@route(
    bp,
    SETTINGS,
    "GET",
    summary="Read the tenant's default group activity window",
    auth="tenant",
    role=Role.VIEWER,
    tag="settings",
)
def get_group_activity_settings(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().group_facts.settings(tenant_id)


@route(
    bp,
    SETTINGS,
    "PUT",
    summary="Set the tenant's default group activity window (1 to 90 days)",
    auth="tenant",
    role=Role.OPS,
    body="group_activity_settings",
    tag="settings",
)
def put_group_activity_settings(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().group_facts.set_settings(tenant_id, ctx.body)
