"""「我的今天」: a staff member's day (tasks due today by due time, follow-ups, overdue tasks, hot leads), one task's
page (its message, its customers, confirm with a screenshot, snooze) and the proof image. Thin like the routes:
parse, one call to services/my_day.py, render. Ops open any staff member's day with ``?userid=``.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)

# How tasks read on the page (labels only; what a status means is the services').
KINDS = {
    "mass": "群发任务",
    "follow_up": "一对一跟进",
    "escalation": "升级提醒",
    "welcome": "欢迎语",
    "moment": "发表朋友圈",  # a plan's Moments step (services/sop/moments.py): published in WeCom by the staff member
}
STATUSES = {
    "created": ("待发送", "warn"),
    "confirmed": ("已完成", "ok"),
    "sent": ("已发送", "ok"),
    "done": ("已完成", "ok"),
    "retrying": ("重试中", ""),
    "claimed": ("准备中", ""),
    "failed": ("失败", "bad"),
    "empty": ("无客户", ""),
}
REASONS = {
    "positive_reply": "客户积极回复",
    "overdue": "逾期未发送",
    "welcome_failed": "欢迎语未发出",
    "moment_in_doubt": "朋友圈任务状态不明，请在企业微信中查看",
}
SNOOZE_CHOICES = [("30", "30 分钟后"), ("60", "1 小时后"), ("120", "2 小时后"), ("1440", "明天此时")]
LABELS = {"kinds": KINDS, "statuses": STATUSES, "reasons": REASONS}


@page(bp, "/console/{tenant_id}/my", role=Role.STAFF, summary="My day: today's tasks, follow-ups, hot leads")
def my_day(pc: PageCtx, tenant_id: str) -> PageResult:
    userid = pc.staff_scope or pc.query.get("userid", "")
    if not userid:  # ops: whose day to open
        staff = [(s.userid, f"{s.name}（{s.userid}）") for s in pc.svc.staff.list(tenant_id)]
        return Html("my_day/pick.html", {"title": "我的今天", "active": "/my", "staff": staff})
    day = pc.svc.my_day.day(tenant_id, userid)
    suffix = "" if pc.staff_scope else f"?userid={userid}"
    return Html("my_day/index.html", {"title": "我的今天", "active": "/my", "day": day, "suffix": suffix, **LABELS})


@page(bp, "/console/{tenant_id}/my/tasks/{task_id}", role=Role.STAFF, summary="A task: its message and customers")
def task_page(pc: PageCtx, tenant_id: str, task_id: str) -> PageResult:
    view = pc.svc.my_day.task(tenant_id, task_id, userid=pc.staff_scope)
    return _task_html(view, error=None, status=200)


@page(
    bp,
    "/console/{tenant_id}/my/tasks/{task_id}/confirm",
    ("POST",),
    role=Role.STAFF,
    summary="Confirm a task with a screenshot",
)
def confirm(pc: PageCtx, tenant_id: str, task_id: str) -> PageResult:
    proof = pc.files.get("proof")
    try:
        pc.svc.my_day.confirm_with_proof(
            tenant_id,
            task_id,
            userid=pc.staff_scope,
            data=proof.data if proof else b"",
            content_type=proof.content_type if proof else "",
        )
    except InvalidError as exc:  # the task again, the error by the file field
        view = pc.svc.my_day.task(tenant_id, task_id, userid=pc.staff_scope)
        return _task_html(view, error=exc.message, status=400)
    return Redirect(f"{pc.base}/my/tasks/{task_id}", flash="已确认：任务已标记完成")


@page(bp, "/console/{tenant_id}/my/tasks/{task_id}/snooze", ("POST",), role=Role.STAFF, summary="Snooze a task")
def snooze(pc: PageCtx, tenant_id: str, task_id: str) -> PageResult:
    raw = pc.form.get("minutes", "")
    try:
        minutes = int(raw) if raw.isdigit() else 0
        pc.svc.my_day.snooze(tenant_id, task_id, userid=pc.staff_scope, minutes=minutes)
    except InvalidError as exc:
        view = pc.svc.my_day.task(tenant_id, task_id, userid=pc.staff_scope)
        return _task_html(view, error=None, status=400, snooze_error=exc.message)
    return Redirect(f"{pc.base}/my", flash="已设置稍后提醒")


@page(bp, "/console/{tenant_id}/tasks/{task_id}/proof", role=Role.STAFF, summary="A task's proof screenshot")
def proof(pc: PageCtx, tenant_id: str, task_id: str) -> PageResult:
    blob = pc.svc.my_day.proof(tenant_id, task_id, userid=pc.staff_scope)
    headers: dict[str, str | list[str]] = {
        "Content-Type": blob.content_type,
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    }
    return Response(body=blob.data, status_code=200, headers=headers)


def _task_html(view: Any, *, error: str | None, status: int, snooze_error: str | None = None) -> Html:
    context = {
        "title": KINDS.get(view.task.kind, "任务"),
        "active": "/my",
        "view": view,
        "error": error,
        "snooze_error": snooze_error,
        "snooze_choices": SNOOZE_CHOICES,
        **LABELS,
    }
    return Html("my_day/task.html", context, status=status)
