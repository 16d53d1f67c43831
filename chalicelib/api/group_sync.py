"""The group sync's routes: start it (or see the one running) and follow its progress."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/groups/sync",
    "POST",
    summary="Reconcile every customer group with WeCom (resumable job; starts one or returns the running one)",
    auth="tenant",
    role=Role.OPS,
    status=202,
    tag="groups",
)
def start_group_sync(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().group_sync.start(ctx.tenant)


@route(
    bp,
    "/t/{tenant_id}/groups/sync/{job_id}",
    "GET",
    summary="Progress of a group sync: pages done, groups seen, groups changed",
    auth="tenant",
    role=Role.VIEWER,
    tag="groups",
)
def group_sync_status(ctx: Ctx, tenant_id: str, job_id: str) -> dict[str, Any]:
    return services().group_sync.status(tenant_id, job_id)
