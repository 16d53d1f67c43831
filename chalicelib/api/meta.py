"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.common import Ctx, json_response, route
from chalicelib.api.openapi import document
from chalicelib.bootstrap import services

bp = Blueprint(__name__)


@route(
    bp, "/health", "GET", summary="Status of each dependency (DynamoDB, Scheduler, WeCom)", auth="public", tag="meta"
)
def health(ctx: Ctx) -> Response:
    checker = services().health
    report = checker.check() if checker else {"status": "ok", "dependencies": {}}
    return json_response(report, 200 if report["status"] == "ok" else 503)


@route(
    bp,
    "/openapi.json",
    "GET",
    summary="This API as OpenAPI 3.1, built from the validating JSON Schemas",
    auth="public",
    tag="meta",
)
def openapi(ctx: Ctx) -> dict[str, Any]:
    return document()
