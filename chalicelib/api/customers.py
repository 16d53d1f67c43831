"""Customers under /t/{tenant_id}/customers: list, read, tag, referral code, erase."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.customers import Stage
from chalicelib.domain.instants import parse_instant
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError
from chalicelib.ports import CustomerFilter
from chalicelib.services.customer_filters import customer_filter

bp = Blueprint(__name__)

FILTERS: dict[str, dict[str, Any]] = {
    "tag": {"type": "string", "description": "tag id"},
    "stage": {"enum": [s.value for s in Stage]},
    "channel": {"type": "string", "description": "source channel id, or 'organic'"},
    "owner": {"type": "string", "description": "owner staff userid"},
    "added_from": {"type": "string", "format": "date-time", "description": "inclusive, ISO-8601 with offset"},
    "added_to": {"type": "string", "format": "date-time", "description": "exclusive, ISO-8601 with offset"},
}


def _filter(ctx: Ctx) -> CustomerFilter:
    q = ctx.query
    dated = q.get("added_from") or q.get("added_to")
    return customer_filter(q, ctx.tenant.zone if dated else ZoneInfo("UTC"))


def _summary(c: Any) -> dict[str, Any]:
    keep = (
        "customer_id",
        "external_userid",
        "owner_userid",
        "source_channel_id",
        "stage",
        "tags",
        "name",
        "added_at",
        "referrer_customer_id",
    )
    body = c.public()
    return {k: body[k] for k in keep}


@route(
    bp,
    "/t/{tenant_id}/customers",
    "GET",
    summary="List customers (newest first), filtered and paginated",
    auth="tenant",
    role=Role.STAFF,
    query={**PAGINATION, **FILTERS},
    tag="customers",
)
def list_customers(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    page = services().customers.find(
        tenant_id, _filter(ctx), cursor=ctx.cursor(), limit=ctx.limit(), only_owner=ctx.staff_scope
    )
    return {"items": [_summary(c) for c in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}",
    "GET",
    summary="Read a customer: profile, tags, channel touches, timeline",
    auth="tenant",
    role=Role.STAFF,
    tag="customers",
)
def get_customer(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    svc = services()
    zone = ctx.tenant.zone
    return svc.customers.detail(tenant_id, customer_id, only_owner=ctx.staff_scope, zone=zone)


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}/timeline",
    "GET",
    summary="The customer's timeline, newest first: adds, tags, enrollments, touches, tasks, events",
    auth="tenant",
    role=Role.STAFF,
    query={
        **PAGINATION,
        "before": {"type": "string", "format": "date-time", "description": "only entries before this instant"},
    },
    tag="customers",
)
def customer_timeline(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    svc = services()
    zone = ctx.tenant.zone
    before = None
    if ctx.query.get("before"):
        try:
            before = parse_instant(ctx.query["before"], zone)
        except ValueError as exc:
            raise InvalidError("before must be an ISO-8601 date or date-time") from exc
    return svc.customers.timeline(
        tenant_id,
        customer_id,
        zone=zone,
        limit=ctx.limit(),
        cursor=ctx.cursor(),
        before=before,
        only_owner=ctx.staff_scope,
    )


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}/tags",
    "POST",
    summary="Add and remove tags",
    auth="tenant",
    role=Role.STAFF,
    body="customer_tags",
    tag="customers",
)
def change_tags(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    svc = services()
    customer = svc.customers.change_tags(
        ctx.tenant,
        customer_id,
        add=ctx.body.get("add", []),
        remove=ctx.body.get("remove", []),
        actor=ctx.actor,
        only_owner=ctx.staff_scope,
    )
    return _summary(customer)


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}/referral-channel",
    "POST",
    summary="Get or create the customer's referral code (老带新)",
    auth="tenant",
    role=Role.STAFF,
    body="referral_create",
    status=201,
    tag="customers",
)
def referral_channel(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    svc = services()
    svc.customers.get(tenant_id, customer_id, only_owner=ctx.staff_scope)
    return svc.channels.referral_for(ctx.tenant, customer_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}",
    "DELETE",
    summary="Erase the customer's personal data everywhere (PIPL); anonymous aggregates stay",
    auth="tenant",
    role=Role.ADMIN,
    tag="customers",
)
def erase_customer(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    svc = services()
    return svc.customers.erase(ctx.tenant, customer_id)
