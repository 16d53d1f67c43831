"""Channel live codes (渠道活码) under /t/{tenant_id}/channels."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/channels",
    "POST",
    summary="Create a channel and its WeCom QR code",
    auth="tenant",
    role=Role.OPS,
    body="channel_create",
    status=201,
    tag="channels",
    idempotent=True,
)
def create_channel(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    svc = services()
    return svc.channels.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/channels",
    "GET",
    summary="List channels (kind=standard|referral)",
    auth="tenant",
    role=Role.VIEWER,
    query={**PAGINATION, "kind": {"enum": ["standard", "referral"], "default": "standard"}},
    tag="channels",
)
def list_channels(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    kind = ctx.query.get("kind", "standard")
    if kind not in ("standard", "referral"):
        raise InvalidError("kind must be standard or referral")
    page = services().channels.list(tenant_id, kind=kind, cursor=ctx.cursor(), limit=ctx.limit())
    return {"items": [c.public() for c in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/channels/{channel_id}",
    "GET",
    summary="Read a channel",
    auth="tenant",
    role=Role.VIEWER,
    tag="channels",
)
def get_channel(ctx: Ctx, tenant_id: str, channel_id: str) -> dict[str, Any]:
    return services().channels.get(tenant_id, channel_id).public()


@route(
    bp,
    "/t/{tenant_id}/channels/{channel_id}",
    "PATCH",
    summary="Change a channel (kept in sync with WeCom)",
    auth="tenant",
    role=Role.OPS,
    body="channel_update",
    tag="channels",
)
def update_channel(ctx: Ctx, tenant_id: str, channel_id: str) -> dict[str, Any]:
    svc = services()
    return svc.channels.update(ctx.tenant, channel_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/channels/{channel_id}",
    "DELETE",
    summary="Delete a channel and its WeCom code",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="channels",
)
def delete_channel(ctx: Ctx, tenant_id: str, channel_id: str) -> dict[str, Any]:
    svc = services()
    svc.channels.delete(ctx.tenant, channel_id)
    return {}
