"""Check-in rules, points, redemptions and group leaderboards (打卡与积分): thin routes over services/points.py."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib.api.common import DEFAULT_LIMIT, MAX_LIMIT, PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)

TENANT_RULE = "/t/{tenant_id}/settings/checkin-rule"
GROUP_RULE = "/t/{tenant_id}/groups/{chat_id}/checkin-rule"
LEADERBOARD = "/t/{tenant_id}/groups/{chat_id}/leaderboard"
POINTS = "/t/{tenant_id}/customers/{customer_id}/points"
REDEMPTIONS = "/t/{tenant_id}/customers/{customer_id}/points/redemptions"
_CHAT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")  # WeCom's chat ids (wr…) and the sandbox's
LIMIT = {"limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}}


def _chat(chat_id: str) -> str:
    if not _CHAT_ID.match(chat_id):
        raise InvalidError("chat_id must be 1-128 letters, digits or _ . @ -")
    return chat_id


@route(
    bp,
    TENANT_RULE,
    "GET",
    summary="Read the tenant's default check-in rule",
    auth="tenant",
    role=Role.VIEWER,
    tag="points",
)
def get_tenant_rule(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().points.rule_view(tenant_id)


@route(
    bp,
    TENANT_RULE,
    "PUT",
    summary="Replace the tenant's default check-in rule (keyword, points, reward_streak; left out: 打卡, 10, 7)",
    auth="tenant",
    role=Role.OPS,
    body="checkin_rule",
    tag="points",
)
def put_tenant_rule(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().points.set_rule(tenant_id, None, ctx.body)


@route(
    bp,
    GROUP_RULE,
    "GET",
    summary="Read a group's check-in rule in force",
    auth="tenant",
    role=Role.VIEWER,
    tag="points",
)
def get_group_rule(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return services().points.rule_view(tenant_id, _chat(chat_id))


@route(
    bp,
    GROUP_RULE,
    "PUT",
    summary="Replace a group's check-in rule override (fields left out follow the tenant's default; {} clears it)",
    auth="tenant",
    role=Role.OPS,
    body="checkin_rule",
    tag="points",
)
def put_group_rule(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return services().points.set_rule(tenant_id, _chat(chat_id), ctx.body)


@route(
    bp,
    LEADERBOARD,
    "GET",
    summary="A group's leaderboard: the top `limit` by points from its check-ins (one Query at any group size)",
    auth="tenant",
    role=Role.VIEWER,
    query=LIMIT,
    tag="points",
)
def leaderboard(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return services().points.leaderboard(tenant_id, _chat(chat_id), limit=ctx.limit())


@route(
    bp,
    POINTS,
    "GET",
    summary="A customer's points: balance, standing and streak per group, and the ledger newest first (paged)",
    auth="tenant",
    role=Role.STAFF,
    query=PAGINATION,
    tag="points",
)
def customer_points(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    return services().points.points(
        ctx.tenant, customer_id, cursor=ctx.cursor(), limit=ctx.limit(), only_owner=ctx.staff_scope
    )


@route(
    bp,
    REDEMPTIONS,
    "POST",
    summary="Redeem points (积分兑换): never below zero (409 insufficient_points); a repeated redemption_id "
    "answers its first outcome",
    auth="tenant",
    role=Role.STAFF,
    body="redemption",
    tag="points",
)
def redeem(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    return services().points.redeem(ctx.tenant, customer_id, ctx.body, only_owner=ctx.staff_scope)
