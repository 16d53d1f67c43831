"""Business events from a tenant's own systems (CRM, shop, LMS, landing pages): HMAC-signed, no bearer token.

Like the WeCom callback, the route authenticates itself — with the tenant's events secret over the timestamp and
the raw body (see domain/business_events.py and the README) — so it is declared ``auth="public"`` and the body is
validated by the service after the signature, never before: an unsigned caller learns nothing about the schema.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/events",
    "POST",
    summary="Business events (order, message, checkin, share, exposure, custom), one or a batch of ≤ 100; "
    "signed with X-Siyu-Timestamp and X-Siyu-Signature (HMAC-SHA256 of '<timestamp>.<body>')",
    auth="public",
    tag="events",
)
def post_events(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    headers: Any = ctx.request.headers or {}
    return services().events.receive(
        tenant_id,
        timestamp=headers.get("x-siyu-timestamp"),
        signature=headers.get("x-siyu-signature"),
        body=ctx.request.raw_body or b"",
    )
