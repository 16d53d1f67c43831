"""Ops pages for SOP plans (SOP计划): the list, the sheet upload with each problem against its row, a plan and its
versions, publish / pause / resume / archive, the calendar preview, the version diff and the migration (dry run
first, then apply). Thin like api/plans.py and api/sop.py: parse, one service call, render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chalice import Blueprint

from chalicelib.console import import_messages, plan_form
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.plans import Plan
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

if TYPE_CHECKING:
    from chalicelib.services.plan_upload import SheetUpload

bp = Blueprint(__name__)

PAGE_SIZE = 50
ACTIONS = {"publish": "已发布", "pause": "已暂停", "resume": "已恢复", "archive": "已归档"}
NAMES = {
    "status_names": plan_form.STATUS_NAMES,
    "status_badges": plan_form.STATUS_BADGES,
    "content_types": plan_form.CONTENT_TYPE_NAMES,
    "field_names": plan_form.FIELD_NAMES,
    "zh": import_messages.zh,
}


def _html(template: str, title: str, status: int = 200, **context: Any) -> Html:
    return Html(f"plans/{template}", {"title": title, "active": "/plans", **NAMES, **context}, status=status)


def _current(versions: list[Plan]) -> Plan:
    return next((v for v in versions if v.version == v.current_version), versions[-1])


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else None


@page(bp, "/console/{tenant_id}/plans", role=Role.OPS, summary="SOP plans with their status")
def plans(pc: PageCtx, tenant_id: str) -> PageResult:
    status = pc.query.get("status") or None
    status = status if status in plan_form.STATUS_NAMES else None
    found = pc.svc.plans.find(tenant_id, status=status, cursor=pc.query.get("cursor") or None, limit=PAGE_SIZE)
    more = f"?{urlencode({'status': status or '', 'cursor': found.next_cursor})}" if found.next_cursor else ""
    return _html("list.html", "SOP计划", plans=found.items, filter_status=status or "", more=more)


def _import_page(pc: PageCtx, result: SheetUpload | None, params: dict[str, str], status: int = 200) -> Html:
    return _html(
        "import.html",
        "导入SOP表格",
        status,
        result=result,
        params=params,
        triggers=plan_form.TRIGGERS,
        kinds=plan_form.KINDS,
        group_types=plan_form.GROUP_TYPE_CHOICES,
        reentries=plan_form.REENTRY,
        exits=plan_form.EXITS,
    )


@page(bp, "/console/{tenant_id}/plans/import", role=Role.OPS, summary="The form to upload a plan's sheet")
def import_form(pc: PageCtx, tenant_id: str) -> PageResult:
    return _import_page(pc, None, plan_form.import_params(pc.query))


@page(bp, "/console/{tenant_id}/plans/import", ("POST",), role=Role.OPS, summary="Upload a CSV or XLSX plan sheet")
def import_sheet(pc: PageCtx, tenant_id: str) -> PageResult:
    params = plan_form.import_params(pc.form)
    try:
        raw, content_type = plan_form.sheet_of(pc.form, pc.form_fields, pc.files)
    except InvalidError as exc:
        from chalicelib.services.plan_upload import SheetUpload  # a refused upload only

        return _import_page(pc, SheetUpload(fields={"file": exc.message}), params, status=400)
    result = pc.svc.plans.upload(pc.tenant, raw, content_type, params)
    if result.plan is None:
        return _import_page(pc, result, params, status=400)
    steps = len(result.plan.steps)
    flash = f"已导入 {steps} 步，版本 {result.plan.version}（{plan_form.STATUS_NAMES[result.plan.status.value]}）"
    return Redirect(f"{pc.base}/plans/{quote(result.plan.plan_id)}", flash=flash)


@page(bp, "/console/{tenant_id}/plans/{plan_id}", role=Role.OPS, summary="A plan: its steps, versions and actions")
def plan(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    versions = pc.svc.plans.versions(tenant_id, plan_id)
    current = _current(versions)
    shown = next((v for v in versions if v.version == _int(pc.query.get("version"))), current)
    exits = plan_form.exit_labels(current.exits)
    return _html("detail.html", current.name, plan=shown, current=current, versions=versions, exits=exits)


def _transition(pc: PageCtx, plan_id: str, action: str) -> PageResult:
    done = getattr(pc.svc.plans, action)(pc.tenant, plan_id)
    return Redirect(f"{pc.base}/plans/{quote(done.plan_id)}", flash=ACTIONS[action])


@page(bp, "/console/{tenant_id}/plans/{plan_id}/publish", ("POST",), role=Role.OPS, summary="Publish a draft plan")
def publish(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return _transition(pc, plan_id, "publish")


@page(bp, "/console/{tenant_id}/plans/{plan_id}/pause", ("POST",), role=Role.OPS, summary="Pause a published plan")
def pause(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return _transition(pc, plan_id, "pause")


@page(bp, "/console/{tenant_id}/plans/{plan_id}/resume", ("POST",), role=Role.OPS, summary="Resume a paused plan")
def resume(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return _transition(pc, plan_id, "resume")


@page(bp, "/console/{tenant_id}/plans/{plan_id}/archive", ("POST",), role=Role.OPS, summary="Archive a plan for good")
def archive(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return _transition(pc, plan_id, "archive")


@page(bp, "/console/{tenant_id}/plans/{plan_id}/preview", role=Role.OPS, summary="A cohort's touches by day and time")
def preview(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    today = pc.svc.clock.now().astimezone(pc.tenant.zone).date()
    start, joins, days, problems = plan_form.preview_request(pc.query, today)
    version = _int(pc.query.get("version"))
    shown = pc.svc.simulation.calendar(pc.tenant, plan_id, start=start, joins=joins, days=days, version=version)
    return _html(
        "preview.html",
        "日历预览",
        plan_id=plan_id,
        preview=shown,
        form={"start": start.isoformat(), "joins": ", ".join(joins), "days": str(days), "version": version or ""},
        problems=problems,
    )


@page(bp, "/console/{tenant_id}/plans/{plan_id}/diff", role=Role.OPS, summary="What changed between two versions")
def diff(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    to_version = _int(pc.query.get("to"))
    from_version = _int(pc.query.get("from"))
    if from_version is None:
        raise InvalidError("请选择要比较的版本（from）")
    found = pc.svc.plans.diff(tenant_id, plan_id, from_version, to_version)
    return _html("diff.html", "版本对比", plan_id=plan_id, diff=found)


def _migrate_page(pc: PageCtx, plan_id: str, report: Any = None, error: str | None = None, previewed: str = "") -> Html:
    versions = pc.svc.plans.versions(pc.tenant_id, plan_id)
    current = _current(versions)
    chosen = _int(pc.form.get("from_version") or pc.query.get("from")) or max(current.version - 1, 1)
    old = next((v for v in versions if v.version == chosen), versions[0])
    mapping = plan_form.step_map(pc.form)
    return _html(
        "migrate.html",
        "迁移到新版本",
        400 if error else 200,
        plan_id=plan_id,
        versions=versions,
        current=current,
        old=old,
        mapping=mapping,
        report=report,
        error=error,
        previewed=previewed,
    )


@page(bp, "/console/{tenant_id}/plans/{plan_id}/migrate", role=Role.OPS, summary="The migration form (step map)")
def migrate_form(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    return _migrate_page(pc, plan_id)


@page(
    bp,
    "/console/{tenant_id}/plans/{plan_id}/migrate",
    ("POST",),
    role=Role.OPS,
    summary="Dry-run, then apply, a migration of enrollments to the current version",
)
def migrate(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    from_version = _int(pc.form.get("from_version"))
    if from_version is None:
        return _migrate_page(pc, plan_id, error="请选择要迁出的版本")
    mapping = plan_form.step_map(pc.form)
    previewed = plan_form.previewed(from_version, mapping)
    # Apply only what the dry run showed: a map changed since then is previewed again instead.
    dry_run = pc.form.get("apply") != "1" or pc.form.get("previewed") != previewed
    try:
        report = pc.svc.migration.migrate(
            pc.tenant,
            plan_id,
            from_version=from_version,
            to_version=None,
            step_map=mapping,
            dry_run=dry_run,
        )
    except InvalidError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        return _migrate_page(pc, plan_id, error="迁移没有执行：" + "；".join([exc.message, *map(str, details)]))
    if dry_run:
        return _migrate_page(pc, plan_id, report=report, previewed=previewed)
    moved = report.enrollments
    return Redirect(f"{pc.base}/plans/{quote(plan_id)}", flash=f"已把 {moved} 个客户迁到版本 {report.to_version}")
