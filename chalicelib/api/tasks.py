"""Staff tasks under /t/{tenant_id}/tasks: confirm-to-send tasks and 1:1 follow-ups. Staff see only their own."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.instants import parse_instant, utc_key
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)

TASK_QUERY: dict[str, dict[str, Any]] = {
    "userid": {"type": "string", "description": "executor staff userid (forced to the caller for staff tokens)"},
    "status": {"enum": ["claimed", "created", "sent", "confirmed", "done", "failed", "empty", "retrying"]},
    "due_from": {"type": "string", "format": "date-time"},
    "due_to": {"type": "string", "format": "date-time"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    "cursor": PAGINATION["cursor"],
}


def _detail(tenant_id: str, task: Any) -> dict[str, Any]:
    """A task with its customers' names and external ids, as the staff member needs them."""
    body = task.public()
    shown = list(task.customer_ids[:200])
    found = services().store.get_customers(tenant_id, shown)  # batched: a task list must not read one by one
    body["customers"] = [
        {
            "customer_id": cid,
            "name": found[cid].name if cid in found else None,
            "external_userid": found[cid].external_userid if cid in found else None,
        }
        for cid in shown
    ]
    return body


@route(
    bp,
    "/t/{tenant_id}/tasks",
    "GET",
    summary="List staff tasks by staff member, status and due time",
    auth="tenant",
    role=Role.STAFF,
    query=TASK_QUERY,
    tag="tasks",
)
def list_tasks(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    q = ctx.query
    zone = ctx.tenant.zone
    bounds = {}
    for name in ("due_from", "due_to"):
        try:
            bounds[name] = utc_key(parse_instant(q[name], zone)) if q.get(name) else None
        except ValueError as exc:
            raise InvalidError(f"{name} must be an ISO-8601 date-time") from exc
    userid = ctx.staff_scope or q.get("userid")
    limit = int(q.get("limit", "50")) if q.get("limit", "50").isdigit() else 0
    if not 1 <= limit <= 100:
        raise InvalidError("limit must be an integer from 1 to 100")
    page = services().staff_tasks.task_page(
        tenant_id, userid=userid, status=q.get("status"), cursor=ctx.cursor(), limit=limit, **bounds
    )
    return {"items": [_detail(tenant_id, t) for t in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/tasks/{task_id}",
    "GET",
    summary="Read a task: customers, message, script notes",
    auth="tenant",
    role=Role.STAFF,
    tag="tasks",
)
def get_task(ctx: Ctx, tenant_id: str, task_id: str) -> dict[str, Any]:
    task = services().staff_tasks.task(tenant_id, task_id, userid=ctx.staff_scope)
    return _detail(tenant_id, task)


@route(
    bp,
    "/t/{tenant_id}/tasks/{task_id}/confirm",
    "POST",
    summary="Confirm a task by hand (optional proof URL)",
    auth="tenant",
    role=Role.STAFF,
    body="task_confirm",
    tag="tasks",
)
def confirm_task(ctx: Ctx, tenant_id: str, task_id: str) -> dict[str, Any]:
    task = services().staff_tasks.confirm(
        tenant_id, task_id, userid=ctx.staff_scope, proof_url=ctx.body.get("proof_url")
    )
    return task.public()


@route(
    bp,
    "/t/{tenant_id}/tasks/{task_id}/snooze",
    "POST",
    summary="Snooze a task for some minutes",
    auth="tenant",
    role=Role.STAFF,
    body="task_snooze",
    tag="tasks",
)
def snooze_task(ctx: Ctx, tenant_id: str, task_id: str) -> dict[str, Any]:
    task = services().staff_tasks.snooze(tenant_id, task_id, userid=ctx.staff_scope, minutes=ctx.body["minutes"])
    return task.public()
