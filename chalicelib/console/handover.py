"""客户交接 (issue 14 §2): pick the staff members and a filter, preview what moves, start the hand-over (its progress
is on 任务进度), and see resigned staff's customers WeCom holds for a new owner (离职继承)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import errors
from chalicelib.console import ops_labels as labels
from chalicelib.console.jobs import job_url, jobs_of
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role

if TYPE_CHECKING:
    from chalicelib.services.handover import HandoverService

bp = Blueprint(__name__)

FIELDS = (
    "mode",
    "handover_userid",
    "takeover_userid",
    "success_msg",
    "tag",
    "stage",
    "channel",
    "added_from",
    "added_to",
)
MODE_LABELS = ("在职继承（员工在职，换人跟进）", "离职继承（员工已离职）")  # for ho.TRANSFER, ho.RESIGNED


def handover_svc(pc: PageCtx) -> HandoverService:
    """Imported on first use: ``import app`` does not pay for it."""
    from chalicelib.services.handover import handover_of

    return handover_of(pc.svc)


@page(bp, "/console/{tenant_id}/handover", role=Role.OPS, summary="客户交接: preview and start a hand-over")
def handover(pc: PageCtx, tenant_id: str) -> PageResult:
    return Html("handover/index.html", _context(pc, {k: pc.query.get(k, "") for k in FIELDS}))


@page(bp, "/console/{tenant_id}/handover", ("POST",), role=Role.OPS, summary="Preview or start a hand-over")
def submit(pc: PageCtx, tenant_id: str) -> PageResult:
    values = {k: pc.form.get(k, "").strip() for k in FIELDS}
    try:
        from chalicelib.domain import handover as ho  # here: `import app` does not pay for it

        req = ho.request_of(_body(values))
        svc = handover_svc(pc)
        if pc.form.get("action") != "start":
            return Html("handover/index.html", _context(pc, values, preview=svc.preview(pc.tenant, req)))
        job = svc.start(pc.tenant, req)
    except errors.InvalidError as exc:
        return Html("handover/index.html", _context(pc, values, error=exc.message), status=400)
    return Redirect(job_url(pc, job["job_id"]), flash="客户交接已开始：企业微信将在 24 小时后完成接替。")


def _body(values: dict[str, str]) -> dict[str, Any]:
    flt = {k: values[k] for k in ("tag", "stage", "channel", "added_from", "added_to") if values.get(k)}
    body: dict[str, Any] = {k: values[k] for k in ("mode", "handover_userid", "takeover_userid") if values.get(k)}
    if values.get("success_msg"):
        body["success_msg"] = values["success_msg"]
    return {**body, "filter": flt}


def _handover_options(staff: list[tuple[str, str]], unassigned: dict[str, list[str]] | None) -> list[tuple[str, str]]:
    """The staff, then resigned members Siyu no longer lists whose customers WeCom holds (离职继承 can name them)."""
    known = {userid for userid, _ in staff}
    gone = sorted(u for u in (unassigned or {}) if u not in known)
    return [*staff, *((u, f"{u}（已离职，待分配）") for u in gone)]


def _context(pc: PageCtx, values: dict[str, str], **extra: Any) -> dict[str, Any]:
    from chalicelib.domain import handover as ho  # here: `import app` does not pay for it

    board = jobs_of(pc).board(pc.tenant.tenant_id)
    unassigned: dict[str, list[str]] | None
    try:
        unassigned = handover_svc(pc).unassigned(pc.tenant)
    except errors.SiyuError:  # WeCom unreachable or refusing: the form still works
        unassigned = None
    return {
        "title": "客户交接",
        "active": "/handover",
        "values": values,
        "modes": list(zip((ho.TRANSFER, ho.RESIGNED), MODE_LABELS, strict=True)),
        "staff_options": board["filters"].staff,
        "handover_options": _handover_options(board["filters"].staff, unassigned),
        "tag_options": [(t.tag_id, t.label) for t in board["filters"].tags],
        "channel_options": board["filters"].channels,
        "stages": labels.STAGE_CHOICES,
        "jobs": [j for j in board["jobs"] if j.kind == ho.HANDOVER],
        "unassigned": None if unassigned is None else sorted((u, len(ids)) for u, ids in unassigned.items()),
        "skip_labels": ho.SKIP_REASONS,
        "preview": None,
        "error": None,
        **extra,
    }
