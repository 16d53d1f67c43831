"""The WeCom callback: GET verifies the URL, POST delivers encrypted events. Answers fast, never a 500 for bad
input (a 4xx with a JSON error), and a 200 for everything accepted — including duplicates and ignored events."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.common import Ctx, json_response, route
from chalicelib.bootstrap import services

bp = Blueprint(__name__)

# WeCom posts XML; accept the content types it and proxies are seen to use so nothing is refused before the checks.
CALLBACK_TYPES = [
    "text/xml",
    "application/xml",
    "text/plain",
    "application/octet-stream",
    "application/json",
    "application/x-www-form-urlencoded",
]
CALLBACK_QUERY = {name: {"type": "string"} for name in ("msg_signature", "timestamp", "nonce")}


@route(
    bp,
    "/wecom/{tenant_id}/callback",
    "GET",
    summary="WeCom URL verification (echostr)",
    auth="wecom",
    query={**CALLBACK_QUERY, "echostr": {"type": "string"}},
    tag="wecom",
    content_types=CALLBACK_TYPES,
    strict_query=False,  # WeCom, not us, decides what it appends to the URL
)
def wecom_verify(ctx: Ctx, tenant_id: str) -> Response:
    plain = services().callbacks.verify_url(tenant_id, ctx.query)
    return Response(body=plain, status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})


@route(
    bp,
    "/wecom/{tenant_id}/callback",
    "POST",
    summary="WeCom event delivery (encrypted XML)",
    auth="wecom",
    query=CALLBACK_QUERY,
    tag="wecom",
    content_types=CALLBACK_TYPES,
    strict_query=False,  # WeCom, not us, decides what it appends to the URL
)
def wecom_event(ctx: Ctx, tenant_id: str) -> Response:
    result = services().callbacks.receive(tenant_id, ctx.query, ctx.request.raw_body or b"")
    # WeCom only needs a 200; the JSON helps operators and the sandbox see what happened.
    body: dict[str, Any] = {"outcome": result.outcome}
    if result.customer_id:
        body["customer_id"] = result.customer_id
    if result.welcome:
        body["welcome"] = result.welcome
    return json_response(body)
