"""Staff (成员) CRUD under /t/{tenant_id}/staff."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/staff",
    "POST",
    summary="Add a staff member",
    auth="tenant",
    role=Role.ADMIN,
    body="staff_create",
    status=201,
    tag="staff",
)
def create_staff(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().staff.create(tenant_id, ctx.body).public()


@route(bp, "/t/{tenant_id}/staff", "GET", summary="List staff", auth="tenant", role=Role.VIEWER, tag="staff")
def list_staff(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return {"items": [s.public() for s in services().staff.list(tenant_id)], "next_cursor": None}


@route(
    bp,
    "/t/{tenant_id}/staff/{userid}",
    "GET",
    summary="Read a staff member",
    auth="tenant",
    role=Role.VIEWER,
    tag="staff",
)
def get_staff(ctx: Ctx, tenant_id: str, userid: str) -> dict[str, Any]:
    return services().staff.get(tenant_id, userid).public()


@route(
    bp,
    "/t/{tenant_id}/staff/{userid}",
    "PATCH",
    summary="Change a staff member (cap, role, active…)",
    auth="tenant",
    role=Role.ADMIN,
    body="staff_update",
    tag="staff",
)
def update_staff(ctx: Ctx, tenant_id: str, userid: str) -> dict[str, Any]:
    return services().staff.update(tenant_id, userid, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/staff/{userid}",
    "DELETE",
    summary="Remove a staff member",
    auth="tenant",
    role=Role.ADMIN,
    status=204,
    tag="staff",
)
def delete_staff(ctx: Ctx, tenant_id: str, userid: str) -> dict[str, Any]:
    services().staff.delete(tenant_id, userid)
    return {}
