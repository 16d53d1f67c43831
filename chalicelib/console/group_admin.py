"""The 社群 forms (issue 13 §2 "Groups"): a group's setup, group live codes (群活码: create, edit, stop), the naming
template their rooms are named by, and enrolling groups into a published camp plan.

Thin like the JSON API's routes (api/groups.py, group_codes.py, group_plans.py): parse the form, validate it against
the same schema, the same service call, then 303 to the page it changed. A refused form comes back with each problem
next to its field (400; 409 for a form someone else's edit overtook).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from chalice import Blueprint

from chalicelib import schemas
from chalicelib.console import group_forms as forms
from chalicelib.console.group_forms import Form
from chalicelib.console.groups import board, camp_page, group_page
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import ConflictError, InvalidError

bp = Blueprint(__name__)

STALE = "保存前，别人刚改过这里：上面已是最新的版本号，确认内容后再保存一次即会覆盖"
ENROLL_REFUSALS = {
    "plan_not_published": "计划还没有发布：先在 SOP计划 里发布，再报名社群",
    "not_a_group_plan": "这是客户计划，不是社群计划：客户请在 任务进度 里批量入组",
}
NO_NAMING = "还没有群命名规则：先在下面设置机构名（群活码按它给自动新建的群命名）"


def _stale(form: Form, exc: ConflictError) -> None:
    rev = exc.details.get("rev") if isinstance(exc.details, dict) else None
    form.values["rev"] = str(rev) if rev is not None else form.values.get("rev", "")
    form.errors[""] = STALE


# --- a group's setup ---------------------------------------------------------------------------------------------


@page(bp, "/console/{tenant_id}/groups/{chat_id}/setup", ("POST",), role=Role.OPS, summary="Save a group's setup")
def save_setup(pc: PageCtx, tenant_id: str, chat_id: str) -> PageResult:
    form, body = forms.parse_setup(pc.form)
    if not form.ok:
        return group_page(pc, chat_id, form, status=400)
    try:
        pc.svc.groups.set_up(tenant_id, chat_id, schemas.validate("group_setup", body))
    except InvalidError as exc:
        forms.place(form, exc, forms.SETUP_FIELDS)
        return group_page(pc, chat_id, form, status=400)
    except ConflictError as exc:
        _stale(form, exc)
        return group_page(pc, chat_id, form, status=409)
    return Redirect(f"{pc.base}/groups/{quote(chat_id, safe='')}", flash="群设置已保存")


# --- group live codes (群活码) and the naming template -------------------------------------------------------------


def _code_form_page(pc: PageCtx, code: Form, naming: Form | None, status: int = 200) -> Html:
    editor = board(pc).code_editor(pc.tenant_id, None)
    shown = naming or Form({k: str(v) for k, v in editor.naming.public().items() if k in forms.NAMING_FIELDS})
    context = {"title": "新建群活码", "active": "/groups", "form": code, "naming_form": shown}
    return Html("groups/code_form.html", {**context, "groups": editor.groups, "naming": editor.naming}, status=status)


@page(bp, "/console/{tenant_id}/group-codes/new", role=Role.OPS, summary="The form for a new group live code")
def new_code(pc: PageCtx, tenant_id: str) -> PageResult:
    return _code_form_page(pc, forms.new_code(), None)


@page(bp, "/console/{tenant_id}/group-codes", ("POST",), role=Role.OPS, summary="Create a group live code")
def create_code(pc: PageCtx, tenant_id: str) -> PageResult:
    form, body = forms.parse_code(pc.form, pc.form_list("chat_ids"), pc.form_list("queue"))
    if not form.ok:
        return _code_form_page(pc, form, None, status=400)
    try:
        made = pc.svc.group_codes.create(pc.tenant, schemas.validate("group_code_create", body))
    except InvalidError as exc:
        forms.place(form, exc, forms.CODE_FIELDS)
        return _code_form_page(pc, form, None, status=400)
    except ConflictError as exc:  # no naming template yet, or a group another code holds
        if exc.code == "no_naming_template":
            form.errors[""] = NO_NAMING
        else:
            forms.place(form, InvalidError(exc.message), forms.CODE_FIELDS)
        return _code_form_page(pc, form, None, status=409)
    return Redirect(f"{pc.base}/group-codes/{quote(made.code_id, safe='')}", flash="群活码已创建")


@page(bp, "/console/{tenant_id}/group-naming", ("POST",), role=Role.OPS, summary="Set the group naming template")
def save_naming(pc: PageCtx, tenant_id: str) -> PageResult:
    form, body = forms.parse_naming(pc.form)
    if not form.ok:
        return _code_form_page(pc, forms.new_code(), form, status=400)
    try:
        pc.svc.groups.set_naming(tenant_id, schemas.validate("group_naming", body))
    except InvalidError as exc:
        forms.place(form, exc, forms.NAMING_FIELDS)
        return _code_form_page(pc, forms.new_code(), form, status=400)
    return Redirect(f"{pc.base}/group-codes/new", flash="群命名规则已保存")


def _code_page(pc: PageCtx, code_id: str, form: Form | None, status: int = 200) -> Html:
    editor = board(pc).code_editor(pc.tenant_id, code_id)
    code = editor.code
    assert code is not None  # code_editor raises NotFound otherwise
    shown = form or Form({"rev": str(code.rev), "rotate_at": str(code.rotate_at), "queue": list(code.queue)})
    context: dict[str, Any] = {"title": code.name, "active": "/groups", "code": code, "form": shown}
    return Html("groups/code.html", {**context, "groups": editor.groups}, status=status)


@page(bp, "/console/{tenant_id}/group-codes/{code_id}", role=Role.OPS, summary="A group live code and its edit form")
def code_page(pc: PageCtx, tenant_id: str, code_id: str) -> PageResult:
    return _code_page(pc, code_id, None)


@page(bp, "/console/{tenant_id}/group-codes/{code_id}", ("POST",), role=Role.OPS, summary="Edit a group live code")
def update_code(pc: PageCtx, tenant_id: str, code_id: str) -> PageResult:
    form, body = forms.parse_code_update(pc.form, pc.form_list("queue"))
    if not form.ok:
        return _code_page(pc, code_id, form, status=400)
    try:
        pc.svc.group_codes.update(pc.tenant, code_id, schemas.validate("group_code_update", body))
    except InvalidError as exc:
        forms.place(form, exc, ("rotate_at", "queue"))
        return _code_page(pc, code_id, form, status=400)
    except ConflictError as exc:
        if exc.code == "stale_rev":
            _stale(form, exc)
        else:
            forms.place(form, InvalidError(exc.message), ("rotate_at", "queue"))
        return _code_page(pc, code_id, form, status=409)
    return Redirect(f"{pc.base}/group-codes/{quote(code_id, safe='')}", flash="群活码已保存")


@page(
    bp, "/console/{tenant_id}/group-codes/{code_id}/delete", ("POST",), role=Role.OPS, summary="Stop a group live code"
)
def delete_code(pc: PageCtx, tenant_id: str, code_id: str) -> PageResult:
    pc.svc.group_codes.delete(pc.tenant, code_id)
    return Redirect(f"{pc.base}/groups", flash="群活码已停用：二维码已失效")


# --- a camp's enrollment -----------------------------------------------------------------------------------------


@page(
    bp,
    "/console/{tenant_id}/groups/camps/{plan_id}/enroll",
    ("POST",),
    role=Role.OPS,
    summary="Enroll groups into a published camp plan",
)
def enroll(pc: PageCtx, tenant_id: str, plan_id: str) -> PageResult:
    start = pc.form.get("calendar_start", "").strip() or None
    chat_ids = list(dict.fromkeys(pc.form_list("chat_ids")))
    if not chat_ids:
        return camp_page(pc, plan_id, start, "请至少选择一个社群", status=400)
    try:
        body = schemas.validate("group_enrollment", {"chat_ids": chat_ids})
        done = pc.svc.group_plans.enroll(pc.tenant, plan_id, body["chat_ids"])
    except (InvalidError, ConflictError) as exc:
        return camp_page(pc, plan_id, start, ENROLL_REFUSALS.get(exc.code, exc.message), status=exc.status)
    back = f"{pc.base}/groups/camps/{quote(plan_id, safe='')}" + (f"?{urlencode({'start': start})}" if start else "")
    return Redirect(back, flash=forms.enrolled_message(done.public(), {}))
