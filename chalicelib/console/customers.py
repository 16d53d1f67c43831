"""Customers (客户): the filtered list, one customer's page with the timeline and tag edits, and erasure behind a
confirmation (issue 13 §2). Staff sessions see their own customers only (services/customer_views.py)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chalice import Blueprint

from chalicelib.console import ops_labels as labels
from chalicelib.console.home import can_open_dashboard
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError
from chalicelib.ports import CustomerFilter
from chalicelib.services.customer_filters import customer_filter

if TYPE_CHECKING:
    from chalicelib.services.customer_views import CustomerViews

bp = Blueprint(__name__)

LIST_LIMIT = 20
FILTERS = ("tag", "stage", "channel", "owner", "added_from", "added_to")


def list_filter(pc: PageCtx, values: dict[str, str]) -> CustomerFilter:
    """The list's filter from its form: dates are local days, both ends included (the API's ``added_to`` is
    exclusive, so the day after the last one is its bound)."""
    q = {k: v.strip() for k, v in values.items() if k in FILTERS and v.strip()}
    if q.get("added_to"):
        try:
            q["added_to"] = (date.fromisoformat(q["added_to"]) + timedelta(days=1)).isoformat()
        except ValueError as exc:
            raise InvalidError("结束日期须为 YYYY-MM-DD") from exc
    return customer_filter(q, pc.tenant.zone)


def views(pc: PageCtx) -> CustomerViews:
    """The customer reads, imported on first use: ``import app`` (every cold start) does not pay for them."""
    from chalicelib.services.customer_views import views_of

    return views_of(pc.svc)


def customer_url(pc: PageCtx, customer_id: str) -> str:
    return f"{pc.base}/customers/{quote(customer_id, safe='')}"


@page(bp, "/console/{tenant_id}/customers", role=Role.STAFF, summary="Customers, filtered (staff: their own)")
def customers(pc: PageCtx, tenant_id: str) -> PageResult:
    values = {k: pc.query.get(k, "") for k in FILTERS}
    try:
        flt = list_filter(pc, values)
    except InvalidError as exc:
        return Html("customers/list.html", _list_context(pc, values, None, error=exc.message), status=400)
    listing = views(pc).browse(
        tenant_id, flt, cursor=pc.query.get("cursor") or None, limit=LIST_LIMIT, only_owner=pc.staff_scope
    )
    return Html("customers/list.html", _list_context(pc, values, listing))


def _list_context(pc: PageCtx, values: dict[str, str], listing: Any, *, error: str | None = None) -> dict[str, Any]:
    kept = {k: v for k, v in values.items() if v}
    more = f"?{urlencode({**kept, 'cursor': listing.next_cursor})}" if listing and listing.next_cursor else None
    return {
        "title": "客户",
        "active": "/customers",
        "values": values,
        "listing": listing,
        "error": error,
        "stages": labels.STAGE_CHOICES,
        "tag_options": [(t.tag_id, t.label) for t in listing.tags] if listing else [],
        "channel_options": [*(listing.channels if listing else []), ("organic", "自然添加（无渠道）")],
        "owner_options": listing.staff if listing else [],
        "owner_names": dict(listing.staff) if listing else {},
        "channel_names": dict([*(listing.channels if listing else []), ("organic", "自然添加")]),
        "stage_names": labels.STAGES,
        "next_url": more,
        "filtered": bool(kept),
        "bulk_query": urlencode(kept),
        "is_ops": pc.staff_scope is None,
    }


@page(bp, "/console/{tenant_id}/customers/{customer_id}", role=Role.STAFF, summary="A customer: timeline, tags")
def customer(pc: PageCtx, tenant_id: str, customer_id: str) -> PageResult:
    cursor = pc.query.get("timeline") or None
    card = views(pc).card(tenant_id, customer_id, staff_scope=pc.staff_scope, zone=pc.tenant.zone, cursor=cursor)
    lines = [labels.entry_line(e, card["tag_names"]) for e in card["timeline"]]
    return Html(
        "customers/detail.html",
        {
            "title": "客户详情",
            "active": "/customers",
            "c": card,
            "entries": list(zip(card["timeline"], lines, strict=True)),
            "stage_names": labels.STAGES,
            "add_options": [(t.tag_id, t.label) for t in card["tag_choices"]],
            "url": customer_url(pc, customer_id),
            "later": bool(cursor),
            "earlier_url": f"?{urlencode({'timeline': card['timeline_next_cursor']})}"
            if card["timeline_next_cursor"]
            else None,
            "can_dashboard": can_open_dashboard(pc),
            "can_erase": pc.session is not None and pc.session.role_enum.at_least(Role.ADMIN),
        },
    )


@page(
    bp,
    "/console/{tenant_id}/customers/{customer_id}/tags",
    ("POST",),
    role=Role.STAFF,
    summary="Add or remove a customer's tags (staff: their own customers)",
)
def customer_tags(pc: PageCtx, tenant_id: str, customer_id: str) -> PageResult:
    add = [t for t in pc.form_list("add") if t]
    remove = [t for t in pc.form_list("remove") if t]
    if not add and not remove:
        return Redirect(customer_url(pc, customer_id), flash="请选择要添加或移除的标签。")
    pc.svc.customers.change_tags(
        pc.tenant, customer_id, add=add, remove=remove, actor=pc.actor, only_owner=pc.staff_scope
    )
    return Redirect(customer_url(pc, customer_id), flash="标签已更新。")


ERASE = "/console/{tenant_id}/customers/{customer_id}/erase"


@page(bp, ERASE, role=Role.ADMIN, summary="Confirm a customer's erasure (PIPL)")
def erase_confirm(pc: PageCtx, tenant_id: str, customer_id: str) -> PageResult:
    c = pc.svc.customers.get(tenant_id, customer_id)
    return Html("customers/erase.html", _erase_context(pc, c.customer_id, c.name))


@page(bp, ERASE, ("POST",), role=Role.ADMIN, summary="Erase a customer's personal data everywhere (PIPL)")
def erase(pc: PageCtx, tenant_id: str, customer_id: str) -> PageResult:
    typed = pc.form.get("confirm", "").strip()
    if typed != customer_id:
        c = pc.svc.customers.get(tenant_id, customer_id)
        context = _erase_context(pc, c.customer_id, c.name, error="输入的客户编号不一致，未清除任何数据。")
        return Html("customers/erase.html", context, status=400)
    result = pc.svc.customers.erase(pc.tenant, customer_id)
    if not result["erased"]:
        return Redirect(f"{customer_url(pc, customer_id)}/erase", flash="已清除一部分，记录较多，请再次确认以继续。")
    return Redirect(f"{pc.base}/customers", flash=f"已清除客户 {customer_id} 的个人数据。")


def _erase_context(pc: PageCtx, customer_id: str, name: str, *, error: str | None = None) -> dict[str, Any]:
    return {
        "title": "清除客户数据",
        "active": "/customers",
        "customer_id": customer_id,
        "name": name,
        "url": customer_url(pc, customer_id),
        "error": error,
    }
