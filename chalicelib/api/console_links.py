"""``POST /t/{tenant_id}/console-links``: a one-use sign-in link to the console (issue 13 §1, §5).

What `make run` prints for the demo tenant, and what an admin sends a colleague: it signs in once, within 15
minutes, as ops (default) or as a staff member (``role: staff`` with their ``userid``). Admin role: a link is a
session as whoever it names.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/console-links",
    "POST",
    summary="A one-use console sign-in link (15 minutes) as ops, or as a staff member (role staff + userid)",
    auth="tenant",
    role=Role.ADMIN,
    body="console_link_create",
    status=201,
    tag="console",
)
def create_console_link(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    role = str(ctx.body.get("role", Role.OPS.value))
    return services().console_auth.create_link(
        tenant_id, role=role, userid=ctx.body.get("userid"), created_by=ctx.actor
    )
