"""Customer groups' setup (社群) under /t/{tenant_id}/groups, and the tenant's group naming template.

WeCom's half of a group (name, owner, admins, members) is read-only here; ops set the type, cohort, number, KOLs,
campaign and tags. A staff token sees only the groups it owns or administers.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.groups import GROUP_TYPES
from chalicelib.domain.tenants import Role
from chalicelib.services.groups.setup import GroupFilter, group_public

bp = Blueprint(__name__)

NAMING = "/t/{tenant_id}/settings/group-naming"
_TEXT = {"type": "string", "minLength": 1, "maxLength": 30}


@route(
    bp,
    "/t/{tenant_id}/groups",
    "GET",
    summary="List groups (filters: type, cohort, status, tag)",
    auth="tenant",
    role=Role.VIEWER,
    query={
        **PAGINATION,
        "type": {"enum": list(GROUP_TYPES)},
        "cohort": _TEXT,
        "status": {"enum": ["active", "dismissed"]},
        "tag": _TEXT,
    },
    tag="groups",
)
def list_groups(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    a = ctx.args
    flt = GroupFilter(a.get("type"), a.get("cohort"), a.get("status"), a.get("tag"), staff=ctx.staff_scope)
    page = services().groups.list(tenant_id, flt, cursor=ctx.cursor(), limit=a.get("limit", 20))
    return {"items": [group_public(g) for g in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/groups/naming-report",
    "GET",
    summary="Active groups whose names break the naming template, and why",
    auth="tenant",
    role=Role.VIEWER,
    query=PAGINATION,
    tag="groups",
)
def naming_report(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    page = services().groups.naming_report(tenant_id, cursor=ctx.cursor(), limit=ctx.args.get("limit", 20))
    return {"items": page.items, "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/groups/{chat_id}",
    "GET",
    summary="Read a group: WeCom's state and ops' setup",
    auth="tenant",
    role=Role.VIEWER,
    tag="groups",
)
def get_group(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return group_public(services().groups.get(tenant_id, chat_id, staff=ctx.staff_scope))


@route(
    bp,
    "/t/{tenant_id}/groups/{chat_id}/setup",
    "PUT",
    summary="Replace a group's setup (type, cohort, number, KOLs, campaign, tags); 409 on a stale rev",
    auth="tenant",
    role=Role.OPS,
    body="group_setup",
    tag="groups",
)
def put_group_setup(ctx: Ctx, tenant_id: str, chat_id: str) -> dict[str, Any]:
    return group_public(services().groups.set_up(tenant_id, chat_id, ctx.body))


@route(
    bp,
    NAMING,
    "GET",
    summary="The group naming template; with positioning, cohort and number, the name it gives",
    auth="tenant",
    role=Role.VIEWER,
    query={
        "positioning": _TEXT,
        "cohort": {**_TEXT, "maxLength": 10},
        "number": {"type": "string", "pattern": "^\\d{1,4}$"},
    },
    tag="groups",
)
def get_group_naming(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    svc = services().groups
    body = svc.naming(tenant_id).public()
    a = ctx.args
    if {"positioning", "cohort", "number"} <= set(a):
        body["name"] = svc.render_name(tenant_id, a["positioning"], a["cohort"], a["number"])
    return body


@route(
    bp,
    NAMING,
    "PUT",
    summary="Set the group naming template (institution, separator, cohort suffix, number width)",
    auth="tenant",
    role=Role.OPS,
    body="group_naming",
    tag="groups",
)
def put_group_naming(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().groups.set_naming(tenant_id, ctx.body).public()
