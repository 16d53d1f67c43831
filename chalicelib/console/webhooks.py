"""Webhook (outbound webhooks, issue 14 §6): the tenant's subscriptions, their recent deliveries and dead letters.

Ops see the page and replay dead letters; making, pausing, rotating and deleting a subscription is for admins, as
in the JSON API. A new subscription's secret (and a rotated one) is shown once, on the page that answers the form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import ConflictError, InvalidError, NotFoundError

if TYPE_CHECKING:  # imported when the services are built, not with ``app`` (every cold start)
    from chalicelib.services.webhooks import WebhookService

bp = Blueprint(__name__)

EVENT_LABELS = {
    "customer.added": "客户添加",
    "customer.lost": "客户流失（删除/被删）",
    "customer.merged": "客户合并（撞单）",
    "customer.stage_changed": "阶段变化",
    "order.recorded": "订单",
    "touch.sent": "SOP触达已发送",
    "task.confirmed": "任务已确认",
    "group.joined": "入群",
    "customer.checked_in": "打卡",
}
PII_LABELS = {"name": "客户昵称", "phone_masked": "手机号（脱敏）", "external_userid": "external_userid"}
ACTIVE, PAUSED = "active", "paused"  # domain/webhooks.py's, not imported with ``app``
STATUS_LABELS = {ACTIVE: "启用", PAUSED: "已暂停"}
ACTIONS = ("pause", "resume", "rotate", "delete")


def hooks(pc: PageCtx) -> WebhookService:
    if pc.svc.webhooks is None:
        raise NotFoundError("webhooks are not available")
    return pc.svc.webhooks


def _context(pc: PageCtx, tenant_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Webhook",
        "active": "/webhooks",
        "board": hooks(pc).board(tenant_id),
        "event_labels": EVENT_LABELS,
        "pii_labels": PII_LABELS,
        "status_labels": STATUS_LABELS,
        "is_admin": pc.session is not None and pc.session.role == Role.ADMIN.value,
        "values": {"url": "", "description": "", "events": [], "pii": []},
        "error": None,
        "secret": None,
        **extra,
    }


@page(bp, "/console/{tenant_id}/webhooks", role=Role.OPS, summary="Outbound webhooks, deliveries, dead letters")
def webhooks(pc: PageCtx, tenant_id: str) -> PageResult:
    return Html("webhooks/index.html", _context(pc, tenant_id))


@page(bp, "/console/{tenant_id}/webhooks", ("POST",), role=Role.ADMIN, summary="Create a webhook")
def create(pc: PageCtx, tenant_id: str) -> PageResult:
    body: dict[str, Any] = {
        "url": pc.form.get("url", "").strip(),
        "events": pc.form_list("events"),
        "pii": pc.form_list("pii"),
        "description": pc.form.get("description", "").strip()[:200],
    }
    try:
        sub, secret = hooks(pc).create(tenant_id, body)
    except (InvalidError, ConflictError) as exc:  # the form again, with what was typed
        return Html("webhooks/index.html", _context(pc, tenant_id, values=body, error=exc.message), status=400)
    return Html("webhooks/index.html", _context(pc, tenant_id, secret=(sub.webhook_id, secret)), status=201)


@page(bp, "/console/{tenant_id}/webhooks/{webhook_id}", ("POST",), role=Role.ADMIN, summary="Pause, rotate, delete")
def change(pc: PageCtx, tenant_id: str, webhook_id: str) -> PageResult:
    action = pc.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidError(f"action must be one of {', '.join(ACTIONS)}")
    svc = hooks(pc)
    if action == "delete":
        svc.delete(tenant_id, webhook_id)
        return Redirect(f"{pc.base}/webhooks", flash="已删除")
    if action == "rotate":
        _, secret = svc.update(tenant_id, webhook_id, {"rotate_secret": True})
        return Html("webhooks/index.html", _context(pc, tenant_id, secret=(webhook_id, secret)))
    svc.update(tenant_id, webhook_id, {"status": PAUSED if action == "pause" else ACTIVE})
    return Redirect(f"{pc.base}/webhooks", flash="已暂停" if action == "pause" else "已启用")


@page(bp, "/console/{tenant_id}/webhooks/{webhook_id}/replay", ("POST",), role=Role.OPS, summary="Replay dead letters")
def replay(pc: PageCtx, tenant_id: str, webhook_id: str) -> PageResult:
    one = pc.form.get("delivery_id")
    done = hooks(pc).replay(tenant_id, webhook_id, ids=[one] if one else None)
    return Redirect(f"{pc.base}/webhooks", flash=f"已重新投递 {len(done['replayed'])} 条")
