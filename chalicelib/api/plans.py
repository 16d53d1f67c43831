"""SOP plans (培育计划) under /t/{tenant_id}/plans: ops write, viewers read."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.plans import PlanStatus
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError
from chalicelib.services import sheets
from chalicelib.services.sheets import UnsupportedMediaTypeError

bp = Blueprint(__name__)

BINARY_TYPES = [sheets.XLSX]  # app.py adds these, so API Gateway hands an XLSX over as bytes, not text
# JSON is accepted by the import route only to answer it with a clear 415 after authentication.
IMPORT_TYPES = [*sheets.UPLOAD_TYPES, "application/json"]
STATUS = {"enum": [s.value for s in PlanStatus], "description": "only plans in this status"}
IMPORT_QUERY: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "description": "the plan's name (required)"},
    "trigger": {"enum": ["channel", "tag", "stage", "manual"], "default": "manual"},
    "channel_id": {"type": "string", "description": "with trigger=channel"},
    "tag_id": {"type": "string", "description": "with trigger=tag (a tag id or a unique tag name)"},
    "stage": {"type": "string", "description": "with trigger=stage"},
    "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
    "holdout_percent": {
        "type": "integer",
        "minimum": 0,
        "maximum": 50,
        "default": 0,
        "description": "对照组: this percentage of customers, chosen stably, get no touches (customer plans)",
    },
    "reentry": {"enum": ["never", "after_completion", "always"]},
    "goal": {"type": "string"},
    "exit": {
        "type": "string",
        "description": "exit rules, comma-separated: order (any purchase), order:trial, order:full, negative_reply",
    },
    "sheet": {"type": "string", "description": "XLSX sheet name (default: the first sheet)"},
    "kind": {"enum": ["customer", "group"], "default": "customer", "description": "group: a camp calendar (社群)"},
    "group_type": {"enum": ["acquisition", "activation", "study", "sales", "service"], "description": "kind=group"},
    "cohort": {"type": "string", "description": "kind=group: only groups of this cohort (期)"},
    "day0": {"type": "string", "description": "kind=group: a fixed day 0 (YYYY-MM-DD) instead of each cohort's"},
    "on_conflict": {
        "enum": ["error", "new_version"],
        "default": "error",
        "description": "a name another plan holds: 409 plan_name_taken (error), or a new version of that plan",
    },
    "as_new_version_of": {"type": "string", "description": "import as a new version of this plan (its plan_id)"},
}


def _version(ctx: Ctx) -> int | None:
    raw = ctx.query.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidError("version must be a whole number from 1")
    return int(raw)


@route(
    bp,
    "/t/{tenant_id}/plans",
    "POST",
    summary="Create a draft plan (version 1)",
    auth="tenant",
    role=Role.OPS,
    body="plan",
    status=201,
    tag="plans",
    idempotent=True,
)
def create_plan(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/plans",
    "GET",
    summary="List plans by id (status=draft|published|paused|archived)",
    auth="tenant",
    role=Role.VIEWER,
    query={**PAGINATION, "status": STATUS},
    tag="plans",
)
def list_plans(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    page = services().plans.find(tenant_id, status=ctx.query.get("status"), cursor=ctx.cursor(), limit=ctx.limit())
    return {"items": [p.summary() for p in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/plans/import",
    "POST",
    summary="Create a draft plan from a CSV or XLSX SOP table (raw body; every bad row reported at once)",
    auth="tenant",
    role=Role.OPS,
    query=IMPORT_QUERY,
    status=201,
    tag="plans",
    content_types=IMPORT_TYPES,
)
def import_plan(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    content_type = (ctx.request.headers or {}).get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "application/json":
        raise UnsupportedMediaTypeError(f"send the sheet itself as the body: text/csv or {sheets.XLSX}")
    svc = services()
    raw = ctx.request.raw_body or b""
    plan, report = svc.plans.import_sheet(ctx.tenant, raw, content_type, ctx.query)
    return {**plan.public(), "import": report}


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}",
    "GET",
    summary="Read a plan: the current version, or ?version=N (old versions stay readable)",
    auth="tenant",
    role=Role.VIEWER,
    query={"version": {"type": "integer", "minimum": 1}},
    tag="plans",
)
def get_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    return services().plans.get(tenant_id, plan_id, _version(ctx)).public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/versions",
    "GET",
    summary="List a plan's versions, oldest first",
    auth="tenant",
    role=Role.VIEWER,
    tag="plans",
)
def list_versions(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    versions = services().plans.versions(tenant_id, plan_id)
    return {"items": [{**v.summary(), "current": v.version == v.current_version} for v in versions]}


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}",
    "PATCH",
    summary="Edit a plan: a draft in place; a live plan gets a new version (enrollments stay pinned)",
    auth="tenant",
    role=Role.OPS,
    body="plan_update",
    tag="plans",
)
def update_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.update(ctx.tenant, plan_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/publish",
    "POST",
    summary="Publish a draft: new enrollments start on its current version",
    auth="tenant",
    role=Role.OPS,
    tag="plans",
)
def publish_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.publish(ctx.tenant, plan_id).public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/pause",
    "POST",
    summary="Pause a published plan: no new enrollments and no touches fire, for every version",
    auth="tenant",
    role=Role.OPS,
    tag="plans",
)
def pause_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.pause(ctx.tenant, plan_id).public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/resume",
    "POST",
    summary="Resume a paused plan (an edit made while paused goes live now)",
    auth="tenant",
    role=Role.OPS,
    tag="plans",
)
def resume_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.resume(ctx.tenant, plan_id).public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/archive",
    "POST",
    summary="Archive a plan for good: no enrollments, touches or edits; its versions stay readable",
    auth="tenant",
    role=Role.OPS,
    tag="plans",
)
def archive_plan(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.plans.archive(ctx.tenant, plan_id).public()
