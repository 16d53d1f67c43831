"""Channel live codes (渠道活码) under /t/{tenant_id}/channels."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.acquisition import LINK
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/channels",
    "POST",
    summary="Create a channel and its WeCom QR code (kind link: an acquisition link)",
    auth="tenant",
    role=Role.OPS,
    body="channel_create",
    status=201,
    tag="channels",
    idempotent=True,
)
def create_channel(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    svc = services()
    key = (ctx.request.headers or {}).get("idempotency-key") or None  # a link channel's id follows it
    channel = svc.channels.create(ctx.tenant, ctx.body, request_key=key)
    return _with_quota(ctx, channel.public()) if channel.kind == LINK else channel.public()


@route(
    bp,
    "/t/{tenant_id}/channels",
    "GET",
    summary="List channels (kind=standard|link|referral; link adds the acquisition quota)",
    auth="tenant",
    role=Role.VIEWER,
    query={**PAGINATION, "kind": {"enum": ["standard", "link", "referral"], "default": "standard"}},
    tag="channels",
)
def list_channels(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    kind = ctx.query.get("kind", "standard")
    if kind not in ("standard", "link", "referral"):
        raise InvalidError("kind must be standard, link or referral")
    page = services().channels.list(tenant_id, kind=kind, cursor=ctx.cursor(), limit=ctx.limit())
    body = {"items": [c.public() for c in page.items], "next_cursor": page.next_cursor}
    return _with_quota(ctx, body) if kind == LINK else body


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
    channel = services().channels.get(tenant_id, channel_id)
    return _with_quota(ctx, channel.public()) if channel.kind == LINK else channel.public()


def _with_quota(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """A link channel's answers carry the corp's acquisition quota (获客额度) and its warning (null: unknown)."""
    quota = services().channels.quota(ctx.tenant)
    return {**body, "quota": quota.public() if quota else None}


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
