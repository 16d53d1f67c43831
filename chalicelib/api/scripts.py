"""The script library (话术库) under /t/{tenant_id}/scripts: what staff say, by stage and scene (破冰, 需求挖掘,
异议处理, 促单). Staff read them (the sidebar); ops write them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.library import SCENES, STAGES
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/scripts",
    "POST",
    summary="Create a script",
    auth="tenant",
    role=Role.OPS,
    body="script_create",
    status=201,
    tag="content",
    idempotent=True,
)
def create_script(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().scripts.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/scripts",
    "GET",
    summary="List scripts in journey order (stage, then scene 破冰 → 促单), optionally of one stage and scene",
    auth="tenant",
    role=Role.VIEWER,
    query={"stage": {"enum": list(STAGES)}, "scene": {"enum": list(SCENES)}},
    tag="content",
)
def list_scripts(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    scripts = services().scripts.list(tenant_id, stage=ctx.args.get("stage"), scene=ctx.args.get("scene"))
    return {"items": [s.public() for s in scripts]}


@route(
    bp,
    "/t/{tenant_id}/scripts/{script_id}",
    "GET",
    summary="Read a script",
    auth="tenant",
    role=Role.VIEWER,
    tag="content",
)
def get_script(ctx: Ctx, tenant_id: str, script_id: str) -> dict[str, Any]:
    return services().scripts.script(tenant_id, script_id).public()


@route(
    bp,
    "/t/{tenant_id}/scripts/{script_id}",
    "PUT",
    summary="Change a script; 409 on a stale rev (the same change twice is answered as made)",
    auth="tenant",
    role=Role.OPS,
    body="script_update",
    tag="content",
)
def update_script(ctx: Ctx, tenant_id: str, script_id: str) -> dict[str, Any]:
    return services().scripts.update(ctx.tenant, script_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/scripts/{script_id}",
    "DELETE",
    summary="Delete a script (a step naming it keeps its own notes)",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="content",
)
def delete_script(ctx: Ctx, tenant_id: str, script_id: str) -> dict[str, Any]:
    services().scripts.delete(tenant_id, script_id)
    return {}
