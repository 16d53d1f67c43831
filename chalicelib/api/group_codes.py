"""Group live codes (群活码) under /t/{tenant_id}/group-codes: one QR code over up to 5 groups that rotates as they
fill (services/group_codes.py)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.api.group_activity import DAY
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/group-codes",
    "POST",
    summary="Create a group live code and its WeCom QR code (add_join_way scene 2)",
    auth="tenant",
    role=Role.OPS,
    body="group_code_create",
    status=201,
    tag="groups",
    idempotent=True,
)
def create_group_code(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().group_codes.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/group-codes",
    "GET",
    summary="List group live codes",
    auth="tenant",
    role=Role.VIEWER,
    query=PAGINATION,
    tag="groups",
)
def list_group_codes(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    page = services().group_codes.list(tenant_id, cursor=ctx.cursor(), limit=ctx.args.get("limit", 20))
    return {"items": [c.public() for c in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/group-codes/{code_id}",
    "GET",
    summary="Read a group live code (its groups now, waiting and retired)",
    auth="tenant",
    role=Role.VIEWER,
    tag="groups",
)
def get_group_code(ctx: Ctx, tenant_id: str, code_id: str) -> dict[str, Any]:
    return services().group_codes.get(tenant_id, code_id).public()


@route(
    bp,
    "/t/{tenant_id}/group-codes/{code_id}/stats",
    "GET",
    summary="Joins through a group code per local day from `from` to `to` (at most 92 days; default the last 7), "
    "and its channel's `group_joins` (joins through all of that channel's codes) when it names one",
    auth="tenant",
    role=Role.VIEWER,
    query={"from": DAY, "to": DAY},
    tag="groups",
)
def group_code_stats(ctx: Ctx, tenant_id: str, code_id: str) -> dict[str, Any]:
    return services().group_facts.code_stats(ctx.tenant, code_id, ctx.args.get("from"), ctx.args.get("to"))


@route(
    bp,
    "/t/{tenant_id}/group-codes/{code_id}",
    "PATCH",
    summary="Change a group code's waiting groups (queue) or threshold (rotate_at); 409 on a stale rev",
    auth="tenant",
    role=Role.OPS,
    body="group_code_update",
    tag="groups",
)
def update_group_code(ctx: Ctx, tenant_id: str, code_id: str) -> dict[str, Any]:
    return services().group_codes.update(ctx.tenant, code_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/group-codes/{code_id}",
    "DELETE",
    summary="Delete a group live code and its WeCom join way",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="groups",
)
def delete_group_code(ctx: Ctx, tenant_id: str, code_id: str) -> dict[str, Any]:
    services().group_codes.delete(ctx.tenant, code_id)
    return {}
