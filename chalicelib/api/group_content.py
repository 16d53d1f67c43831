"""Group content (群规, 群公告, 入群欢迎语, FAQ话术) under /t/{tenant_id}/group-content, referenced by id from group
plan steps and staff tasks."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.group_content import CONTENT_KINDS
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/group-content",
    "POST",
    summary="Create a piece of group content",
    auth="tenant",
    role=Role.OPS,
    body="group_content_create",
    status=201,
    tag="groups",
    idempotent=True,
)
def create_group_content(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().group_content.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/group-content",
    "GET",
    summary="List group content (kind; chat_id: what that group uses, its own and the tenant-wide pieces)",
    auth="tenant",
    role=Role.VIEWER,
    query={
        **PAGINATION,
        "kind": {"enum": list(CONTENT_KINDS)},
        "chat_id": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    tag="groups",
)
def list_group_content(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    a = ctx.args
    page = services().group_content.list(
        tenant_id, kind=a.get("kind"), chat_id=a.get("chat_id"), cursor=ctx.cursor(), limit=a.get("limit", 20)
    )
    return {"items": [c.public() for c in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/group-content/{content_id}",
    "GET",
    summary="Read a piece of group content",
    auth="tenant",
    role=Role.VIEWER,
    tag="groups",
)
def get_group_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    return services().group_content.content(tenant_id, content_id).public()


@route(
    bp,
    "/t/{tenant_id}/group-content/{content_id}",
    "PATCH",
    summary="Change a piece of group content; 409 on a stale rev",
    auth="tenant",
    role=Role.OPS,
    body="group_content_update",
    tag="groups",
)
def update_group_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    return services().group_content.update(ctx.tenant, content_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/group-content/{content_id}",
    "DELETE",
    summary="Delete a piece of group content",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="groups",
)
def delete_group_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    services().group_content.delete(tenant_id, content_id)
    return {}
