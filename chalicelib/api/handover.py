"""客户交接 routes (issue 14 §2): preview or start a hand-over, and follow one. Two paths: the template's budget."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/handovers",
    "POST",
    summary="Preview (dry_run) or start a hand-over of customers to another staff member (在职继承 / 离职继承)",
    auth="tenant",
    role=Role.OPS,
    body="handover_create",
    tag="customers",
)
def create_handover(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    """dry_run: how many customers, enrollments, queued touches and open tasks would move, and who is skipped and
    why; otherwise the job (its first slice already run; the backstop continues it)."""
    from chalicelib.domain.handover import public_job, request_of  # here: `import app` does not pay for it
    from chalicelib.services.handover import handover_of  # here: `import app` does not pay for it

    req = request_of(ctx.body)
    svc = handover_of(services())
    if ctx.body.get("dry_run"):
        return svc.preview(ctx.tenant, req)
    return public_job(svc.start(ctx.tenant, req))


@route(
    bp,
    "/t/{tenant_id}/handovers/{job_id}",
    "GET",
    summary="A hand-over's progress and each customer's state (waiting, taken over, refused, limit exceeded...)",
    auth="tenant",
    role=Role.VIEWER,
    tag="customers",
)
def get_handover(ctx: Ctx, tenant_id: str, job_id: str) -> dict[str, Any]:
    from chalicelib.domain.handover import public_job
    from chalicelib.services.handover import handover_of

    return public_job(handover_of(services()).status(tenant_id, job_id))
