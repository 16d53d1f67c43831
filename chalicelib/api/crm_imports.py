"""CRM import (订单导入, 撞单 against past orders) under /t/{tenant_id}/crm-imports: ops upload, viewers read."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, json_response, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role
from chalicelib.services import sheets
from chalicelib.services.sheets import UnsupportedMediaTypeError

bp = Blueprint(__name__)

# JSON is accepted only to answer it with a clear 415 after authentication (as the plan import does).
UPLOAD_TYPES = [*sheets.UPLOAD_TYPES, "application/json"]


@route(
    bp,
    "/t/{tenant_id}/crm-imports",
    "POST",
    summary="Import past customers and orders from a CSV or XLSX file (raw body; all rows or none; ?dry_run=1 checks)",
    auth="tenant",
    role=Role.OPS,
    query={"dry_run": {"type": "boolean", "description": "check and count only: nothing is stored"}},
    status=201,
    tag="crm",
    content_types=UPLOAD_TYPES,
)
def create_import(ctx: Ctx, tenant_id: str) -> Any:
    content_type = (ctx.request.headers or {}).get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "application/json":
        raise UnsupportedMediaTypeError(f"send the file itself as the body: text/csv or {sheets.XLSX}")
    raw = ctx.request.raw_body or b""
    record, created = services().crm.upload(ctx.tenant, raw, content_type, dry_run=bool(ctx.args.get("dry_run")))
    if created:
        return record
    return json_response(record, 200)  # a dry run, or a file imported before: nothing new was created


@route(
    bp,
    "/t/{tenant_id}/crm-imports",
    "GET",
    summary="The tenant's latest CRM imports with their counts, newest first",
    auth="tenant",
    role=Role.VIEWER,
    tag="crm",
)
def list_imports(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return {"items": services().crm.recent(tenant_id)}


@route(
    bp,
    "/t/{tenant_id}/crm-imports/{import_id}",
    "GET",
    summary="One CRM import: its state (staged or complete) and counts",
    auth="tenant",
    role=Role.VIEWER,
    tag="crm",
)
def get_import(ctx: Ctx, tenant_id: str, import_id: str) -> dict[str, Any]:
    return services().crm.get(tenant_id, import_id)
