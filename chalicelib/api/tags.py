"""Tag taxonomy under /t/{tenant_id}/tag-groups, mirrored to WeCom corp tags."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/tag-groups",
    "GET",
    summary="List tag groups and their tags",
    auth="tenant",
    role=Role.VIEWER,
    tag="tags",
)
def list_tag_groups(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    groups = services().tags.taxonomy(tenant_id).groups
    return {"items": [g.public() for g in sorted(groups, key=lambda g: g.name)], "next_cursor": None}


@route(
    bp,
    "/t/{tenant_id}/tag-groups",
    "POST",
    summary="Create a tag group (exclusive or multi)",
    auth="tenant",
    role=Role.OPS,
    body="tag_group_create",
    status=201,
    tag="tags",
)
def create_tag_group(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    svc = services()
    group = svc.tags.create_group(
        ctx.tenant,
        name=ctx.body["name"],
        exclusive=ctx.body.get("exclusive", False),
        tags=ctx.body.get("tags", []),
    )
    return group.public()


@route(
    bp,
    "/t/{tenant_id}/tag-groups/{group_id}",
    "DELETE",
    summary="Delete a tag group",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="tags",
)
def delete_tag_group(ctx: Ctx, tenant_id: str, group_id: str) -> dict[str, Any]:
    svc = services()
    svc.tags.delete_group(ctx.tenant, group_id)
    return {}


@route(
    bp,
    "/t/{tenant_id}/tag-groups/{group_id}/tags",
    "POST",
    summary="Add a tag to a group",
    auth="tenant",
    role=Role.OPS,
    body="tag_create",
    status=201,
    tag="tags",
)
def create_tag(ctx: Ctx, tenant_id: str, group_id: str) -> dict[str, Any]:
    svc = services()
    return svc.tags.add_tag(ctx.tenant, group_id, ctx.body["name"]).public()


@route(
    bp,
    "/t/{tenant_id}/tag-groups/{group_id}/tags/{tag_id}",
    "DELETE",
    summary="Delete a tag",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="tags",
)
def delete_tag(ctx: Ctx, tenant_id: str, group_id: str, tag_id: str) -> dict[str, Any]:
    svc = services()
    svc.tags.delete_tag(ctx.tenant, group_id, tag_id)
    return {}
