"""Tenant settings routes: the touch rules every plan obeys (quiet hours, content windows, caps, WeCom's limit)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)

TOUCH_RULES = "/t/{tenant_id}/settings/touch-rules"


@route(
    bp,
    TOUCH_RULES,
    "GET",
    summary="Read the tenant's touch rules (every field, defaults filled in)",
    auth="tenant",
    role=Role.VIEWER,
    tag="settings",
)
def get_touch_rules(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().tenants.touch_rules(tenant_id)


@route(
    bp,
    TOUCH_RULES,
    "PUT",
    summary="Replace the tenant's touch rules (fields left out take their defaults; 400 names any content type "
    "the rules would never let out)",
    auth="tenant",
    role=Role.OPS,
    body="touch_rules",
    tag="settings",
)
def put_touch_rules(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().tenants.set_touch_rules(tenant_id, ctx.body)
