"""Jobs (任务进度): bulk enrollments, group syncs and metrics rebuilds with a progress bar that updates (issue 13 §2).

``/console/{t}/jobs/{job_id}`` is the progress page; the same path with ``.json`` after the id is the small JSON its
script polls (one path part each, as API Gateway routes them). Without JavaScript the page refreshes itself while the
job runs, and has a refresh link.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib.console import ops_labels as labels
from chalicelib.console.customers import FILTERS, list_filter
from chalicelib.console.home import can_open_dashboard
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

if TYPE_CHECKING:
    from chalicelib.domain.jobs import JobView
    from chalicelib.services.jobs import JobsService

bp = Blueprint(__name__)

JSON_SUFFIX = ".json"
REFRESH_SECONDS = 3  # the no-JavaScript refresh while a job runs


def jobs_of(pc: PageCtx) -> JobsService:
    """The jobs face, imported on first use: ``import app`` (every cold start) does not pay for it."""
    from chalicelib.services.jobs import jobs_of as build

    return build(pc.svc)


def job_url(pc: PageCtx, job_id: str) -> str:
    return f"{pc.base}/jobs/{quote(job_id, safe='')}"


@page(bp, "/console/{tenant_id}/jobs", role=Role.VIEWER, summary="Long work: bulk enrollments, group syncs")
def jobs(pc: PageCtx, tenant_id: str) -> PageResult:
    return Html("jobs/index.html", _board_context(pc, jobs_of(pc).board(tenant_id)))


def _board_context(pc: PageCtx, board: dict[str, Any], **extra: Any) -> dict[str, Any]:
    values = {k: pc.form.get(k, pc.query.get(k, "")) for k in (*FILTERS, "plan_id", "rebuild_from", "rebuild_to")}
    return {
        "title": "任务进度",
        "active": "/jobs",
        "jobs": board["jobs"],
        "plan_options": board["plans"],
        "tag_options": [(t.tag_id, t.label) for t in board["filters"].tags],
        "channel_options": [*board["filters"].channels, ("organic", "自然添加（无渠道）")],
        "owner_options": board["filters"].staff,
        "values": values,
        "stages": labels.STAGE_CHOICES,
        "can_start": pc.session is not None and pc.session.role_enum.at_least(Role.OPS),
        "can_rebuild": pc.session is not None and pc.session.role_enum.at_least(Role.ADMIN),
        "errors": {},
        **extra,
    }


@page(bp, "/console/{tenant_id}/jobs/bulk", ("POST",), role=Role.OPS, summary="Start a bulk enrollment")
def start_bulk(pc: PageCtx, tenant_id: str) -> PageResult:
    plan_id = pc.form.get("plan_id", "").strip()
    errors: dict[str, str] = {}
    if not plan_id:
        errors["plan_id"] = "请选择计划。"
    try:
        flt = list_filter(pc, pc.form)
    except InvalidError as exc:
        errors["added_to"] = exc.message
    if errors:
        context = _board_context(pc, jobs_of(pc).board(tenant_id), errors=errors)
        return Html("jobs/index.html", context, status=400)
    view = jobs_of(pc).start_bulk(pc.tenant, plan_id, flt)
    return Redirect(job_url(pc, view.job_id), flash="已开始批量入组。")


@page(bp, "/console/{tenant_id}/jobs/rebuild", ("POST",), role=Role.ADMIN, summary="Start a metrics rebuild")
def start_rebuild(pc: PageCtx, tenant_id: str) -> PageResult:
    first, last = pc.form.get("rebuild_from", "").strip(), pc.form.get("rebuild_to", "").strip()
    try:
        view = jobs_of(pc).start_rebuild(pc.tenant, first, last)
    except InvalidError as exc:
        context = _board_context(pc, jobs_of(pc).board(tenant_id), errors={"rebuild_to": exc.message})
        return Html("jobs/index.html", context, status=400)
    return Redirect(job_url(pc, view.job_id), flash="数据重算已开始。")


@page(bp, "/console/{tenant_id}/jobs/group-sync", ("POST",), role=Role.OPS, summary="Start a group sync")
def start_group_sync(pc: PageCtx, tenant_id: str) -> PageResult:
    view = jobs_of(pc).start_group_sync(pc.tenant)
    return Redirect(job_url(pc, view.job_id), flash="社群同步已开始。")


@page(bp, "/console/{tenant_id}/jobs/{job_id}", role=Role.VIEWER, summary="A job's progress (… .json: polled)")
def job(pc: PageCtx, tenant_id: str, job_id: str) -> PageResult:
    polled = job_id.endswith(JSON_SUFFIX)
    view = jobs_of(pc).get(tenant_id, job_id.removesuffix(JSON_SUFFIX))
    if polled:
        return _json(view)
    return Html(
        "jobs/job.html",
        {
            "title": "任务进度",
            "active": "/jobs",
            "job": view,
            "progress_text": progress_text(view),
            "url": job_url(pc, view.job_id),
            "refresh": REFRESH_SECONDS if view.running else None,
            "can_dashboard": can_open_dashboard(pc),
        },
    )


def progress_text(view: JobView) -> str:
    """One line of the job's state and counts: the page's text, and what its poller writes into it."""
    counts = " · ".join(f"{c.label} {c.value}" for c in view.counts if c.value or "：" not in c.label)
    stage = [view.stage] if view.stage != view.status_label else []  # a done job's stage is its status
    return " · ".join([view.status_label, *stage, counts])


def _json(view: JobView) -> Response:
    body = view.public()
    # The console's poller (static/console.js, data-poll) reads total/done/text/finished.
    body.update(
        total=100 if view.percent is not None else None,
        done=view.percent,
        text=progress_text(view),
        finished=not view.running,
    )
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=200, headers=headers)
