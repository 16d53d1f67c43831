"""Platform administration: tenants and their tokens (bearer SIYU_ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services

bp = Blueprint(__name__)


@route(
    bp,
    "/admin/tenants",
    "POST",
    summary="Create a tenant (机构) with its WeCom callback config",
    auth="admin",
    body="tenant_create",
    status=201,
    tag="admin",
)
def create_tenant(ctx: Ctx) -> dict[str, Any]:
    b = ctx.body
    tenant = services().tenants.create(
        tenant_id=b["tenant_id"],
        name=b["name"],
        corp_id=b["corp_id"],
        wecom=b["wecom"],
        timezone=b.get("timezone", "Asia/Shanghai"),
    )
    return {**tenant.public(), "events_secret": tenant.events_secret}  # shown this once, like a token


@route(bp, "/admin/tenants/{tenant_id}", "GET", summary="Read a tenant (never its secrets)", auth="admin", tag="admin")
def get_tenant(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().tenants.get(tenant_id).public()


@route(
    bp,
    "/admin/tenants/{tenant_id}/tokens",
    "POST",
    summary="Issue a tenant token (shown once, stored hashed)",
    auth="admin",
    body="token_create",
    status=201,
    tag="admin",
)
def create_token(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    token, record = services().tenants.issue_token(
        tenant_id, role=ctx.body["role"], staff_userid=ctx.body.get("staff_userid"), label=ctx.body.get("label", "")
    )
    return {"token": token, **record}


@route(
    bp,
    "/admin/tenants/{tenant_id}/tokens",
    "GET",
    summary="List a tenant's tokens: id, role, label, created_at and last_used_at (to the hour; never the token)",
    auth="admin",
    tag="admin",
)
def list_tokens(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return {"items": services().tenants.list_tokens(tenant_id)}


@route(
    bp,
    "/admin/tenants/{tenant_id}/tokens/{token_id}",
    "DELETE",
    summary="Revoke a token (it answers 401 from the next request on)",
    auth="admin",
    status=204,
    tag="admin",
)
def revoke_token(ctx: Ctx, tenant_id: str, token_id: str) -> dict[str, Any]:
    services().tenants.revoke_token(tenant_id, token_id)
    return {}


@route(
    bp,
    "/admin/tenants",
    "GET",
    summary="List tenants (never their secrets)",
    auth="admin",
    query=PAGINATION,
    tag="admin",
)
def list_tenants(ctx: Ctx) -> dict[str, Any]:
    page = services().tenants.find(cursor=ctx.cursor(), limit=ctx.limit())
    return {"items": [t.public() for t in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/admin/tenants/{tenant_id}",
    "PATCH",
    summary="Rename a tenant, change its timezone or rotate its WeCom token, key or secret",
    auth="admin",
    body="tenant_update",
    tag="admin",
)
def update_tenant(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    tenant = services().tenants.update(tenant_id, ctx.body)
    if ctx.body.get("rotate_events_secret"):
        return {**tenant.public(), "events_secret": tenant.events_secret}  # the new secret, shown this once
    return tenant.public()
