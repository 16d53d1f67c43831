"""Outbound webhooks (issue 14 §6; docs/webhooks.md): a tenant's subscriptions and their dead letters.

Three paths (the template's budget): the collection, one subscription (GET with its recent deliveries, PATCH,
DELETE) and its dead letters (GET the list, POST to replay some or all). Making, changing or deleting a subscription
(and so seeing its secret) is for admins; ops read them and replay dead letters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role
from chalicelib.errors import NotFoundError

if TYPE_CHECKING:  # the services are imported when they are built, not with ``app`` (cold starts)
    from chalicelib.services.webhooks import WebhookService

bp = Blueprint(__name__)
RECENT = 20
DELIVERED, DEAD = "delivered", "dead"  # domain/webhooks.py's statuses, not imported with ``app``


def hooks() -> WebhookService:
    svc = services().webhooks
    if svc is None:
        raise NotFoundError("webhooks are not available")
    return svc


@route(
    bp, "/t/{tenant_id}/webhooks", "GET", summary="The tenant's webhooks", auth="tenant", role=Role.OPS, tag="webhooks"
)
def list_webhooks(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return {"items": [sub.public() for sub in hooks().all(tenant_id)]}


@route(
    bp,
    "/t/{tenant_id}/webhooks",
    "POST",
    summary="Subscribe a URL to events; the answer holds its signing secret, shown this once",
    auth="tenant",
    role=Role.ADMIN,
    body="webhook_create",
    status=201,
    tag="webhooks",
)
def create_webhook(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    sub, secret = hooks().create(tenant_id, ctx.body)
    return {**sub.public(), "secret": secret}


@route(
    bp,
    "/t/{tenant_id}/webhooks/{webhook_id}",
    "GET",
    summary="One webhook with its pending (retrying) and recent deliveries",
    auth="tenant",
    role=Role.OPS,
    tag="webhooks",
)
def get_webhook(ctx: Ctx, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    svc = hooks()
    sub = svc.get(tenant_id, webhook_id)
    recent = svc.deliveries(tenant_id, webhook_id, status=DELIVERED, limit=RECENT)
    pending = svc.pending(tenant_id, webhook_id)
    return {
        **sub.public(),
        "pending_deliveries": [d.public() for d in pending],
        "recent_deliveries": [d.public() for d in recent],
    }


@route(
    bp,
    "/t/{tenant_id}/webhooks/{webhook_id}",
    "PATCH",
    summary="Change a webhook (url, events, pii, status active|paused, description); rotate_secret: a new secret",
    auth="tenant",
    role=Role.ADMIN,
    body="webhook_update",
    tag="webhooks",
)
def update_webhook(ctx: Ctx, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    sub, secret = hooks().update(tenant_id, webhook_id, ctx.body)
    return {**sub.public(), **({"secret": secret} if secret else {})}


@route(
    bp,
    "/t/{tenant_id}/webhooks/{webhook_id}",
    "DELETE",
    summary="Delete a webhook (its pending deliveries are dropped)",
    auth="tenant",
    role=Role.ADMIN,
    status=204,
    tag="webhooks",
)
def delete_webhook(ctx: Ctx, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    hooks().delete(tenant_id, webhook_id)
    return {}


@route(
    bp,
    "/t/{tenant_id}/webhooks/{webhook_id}/dead-letters",
    "GET",
    summary="A webhook's dead letters (deliveries that failed every retry), newest first",
    auth="tenant",
    role=Role.OPS,
    tag="webhooks",
)
def list_dead_letters(ctx: Ctx, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    return {"items": [d.public() for d in hooks().deliveries(tenant_id, webhook_id, status=DEAD)]}


@route(
    bp,
    "/t/{tenant_id}/webhooks/{webhook_id}/dead-letters",
    "POST",
    summary="Replay dead letters (ids, or all): each is sent again once, under its own delivery id",
    auth="tenant",
    role=Role.OPS,
    body="webhook_replay",
    tag="webhooks",
)
def replay_dead_letters(ctx: Ctx, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    ids = ctx.body.get("ids")
    return hooks().replay(tenant_id, webhook_id, ids=list(ids) if ids is not None else None)
