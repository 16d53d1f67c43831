"""Group plans' runtime route: enrolling customer groups (社群) into a group plan (a camp calendar, or a 群发)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/groups",
    "POST",
    summary="Enroll groups into a published group plan (the chat ids given, or every group in its audience)",
    auth="tenant",
    role=Role.OPS,
    body="group_enrollment",
    tag="plans",
)
def enroll_groups(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    """200 with the groups enrolled (each with its first touch) and those refused, each with its reason."""
    return services().group_plans.enroll(ctx.tenant, plan_id, ctx.body.get("chat_ids")).public()
