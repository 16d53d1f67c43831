"""SOP runtime routes: manual enrollment (and its refusals), enrollment listings, the simulator, migration, bulk."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role
from chalicelib.services import enrollments
from chalicelib.services.customer_filters import customer_filter

bp = Blueprint(__name__)


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/enrollments",
    "POST",
    summary="Enroll a customer by hand (the plan's audience and re-entry policy apply)",
    auth="tenant",
    role=Role.OPS,
    body="enrollment_create",
    status=201,
    tag="plans",
)
def enroll(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    """201 with the enrollment, or 409 naming the one reason it was refused (404: no such plan or customer)."""
    svc = services()
    enrollment = svc.sop.enrollments.enroll_or_refuse(ctx.tenant, ctx.body["customer_id"], plan_id)
    # The enrollment as the API has always shown it (customer_id, not the kernel's subject).
    return {"enrolled": True, **enrollments.public(enrollment), "runs": enrollment.runs}


LISTING = {**PAGINATION, "status": {"enum": list(enrollments.STATUSES)}}


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/enrollments",
    "GET",
    summary="A plan's enrollments by customer id, optionally of one status (staff: their own customers')",
    auth="tenant",
    role=Role.STAFF,
    query=LISTING,
    tag="plans",
)
def plan_enrollments(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    page = enrollments.of_plan(
        svc.store,
        svc.plans,
        tenant_id,
        plan_id,
        status=enrollments.status_arg(ctx.query),
        cursor=ctx.cursor(),
        limit=ctx.limit(),
        only_owner=ctx.staff_scope,
    )
    return enrollments.public_page(page)


@route(
    bp,
    "/t/{tenant_id}/customers/{customer_id}/enrollments",
    "GET",
    summary="A customer's enrollments by plan id, optionally of one status",
    auth="tenant",
    role=Role.STAFF,
    query=LISTING,
    tag="customers",
)
def customer_enrollments(ctx: Ctx, tenant_id: str, customer_id: str) -> dict[str, Any]:
    page = enrollments.of_customer(
        services().store,
        tenant_id,
        customer_id,
        status=enrollments.status_arg(ctx.query),
        cursor=ctx.cursor(),
        limit=ctx.limit(),
        only_owner=ctx.staff_scope,
    )
    return enrollments.public_page(page)


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/simulate",
    "POST",
    summary="Run the plan over a virtual clock for a synthetic cohort: every touch, deferral, drop and exit",
    auth="tenant",
    role=Role.VIEWER,
    body="plan_simulate",
    tag="plans",
)
def simulate(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    return svc.simulation.simulate(ctx.tenant, plan_id, ctx.body)


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/migrate",
    "POST",
    summary="Move enrollments from one plan version to another by a step map; dry_run previews it",
    auth="tenant",
    role=Role.OPS,
    body="plan_migrate",
    query={"dry_run": {"type": "boolean"}},
    tag="plans",
)
def migrate(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    dry_run = bool(ctx.body.get("dry_run")) or ctx.query.get("dry_run", "").lower() in ("1", "true", "yes")
    report = svc.migration.migrate(
        ctx.tenant,
        plan_id,
        from_version=ctx.body["from_version"],
        to_version=ctx.body.get("to_version"),
        step_map=ctx.body.get("step_map") or {},
        dry_run=dry_run,
    )
    return report.public()


@route(
    bp,
    "/t/{tenant_id}/plans/{plan_id}/enrollments/bulk",
    "POST",
    summary="Enroll every customer matching a filter (resumable job; the first slice runs now)",
    auth="tenant",
    role=Role.OPS,
    body="enrollment_bulk",
    status=202,
    tag="plans",
)
def enroll_bulk(ctx: Ctx, tenant_id: str, plan_id: str) -> dict[str, Any]:
    svc = services()
    tenant = ctx.tenant
    flt = customer_filter({k: str(v) for k, v in (ctx.body.get("filter") or {}).items()}, tenant.zone)
    return svc.bulk.start(tenant, plan_id, flt)


@route(
    bp,
    "/t/{tenant_id}/enrollment-jobs/{job_id}",
    "GET",
    summary="Progress of a bulk enrollment job",
    auth="tenant",
    role=Role.VIEWER,
    tag="plans",
)
def enrollment_job(ctx: Ctx, tenant_id: str, job_id: str) -> dict[str, Any]:
    return services().bulk.status(tenant_id, job_id)
