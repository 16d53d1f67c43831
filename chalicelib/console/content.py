"""素材库 and 话术库 pages (issue 13 §2): the content library (list by kind, create with a file, edit, delete with a
confirmation, image previews) and the script library (grouped by stage and scene; create, edit, delete).

Thin like routes: parse the form (library_forms.py), one service call, render; a bad form is the form again with each
error by its field (400).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib.console.library_forms import (
    KIND_OPTIONS,
    SCENE_OPTIONS,
    STAGE_OPTIONS,
    content_data,
    field_errors,
    script_data,
    upload_of,
)
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.library import CONTENT_KINDS, SCENES, STAGE_NAMES
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)

LIST_LIMIT = 50
INLINE_TYPES = ("image/png", "image/jpeg")
NAMES = {"kinds": CONTENT_KINDS, "stages": STAGE_NAMES, "scenes": SCENES}
OPTIONS = {"kind_options": KIND_OPTIONS, "stage_options": STAGE_OPTIONS, "scene_options": SCENE_OPTIONS}


def _content_form(pc: PageCtx, title: str, **context: Any) -> dict[str, Any]:
    return {"title": title, "active": "/content", "errors": {}, **NAMES, **OPTIONS, **context}


# --- 素材库 -----------------------------------------------------------------------------------------------------------


@page(bp, "/console/{tenant_id}/content", role=Role.OPS, summary="The content library, filtered by kind")
def content_list(pc: PageCtx, tenant_id: str) -> PageResult:
    kind = pc.query.get("kind") or None
    kind = kind if kind in CONTENT_KINDS else None
    listed = pc.svc.content.list(tenant_id, kind=kind, cursor=pc.query.get("cursor") or None, limit=LIST_LIMIT)
    context = {"items": listed.items, "next_cursor": listed.next_cursor, "kind": kind}
    return Html("content/list.html", _content_form(pc, "素材库", **context))


@page(bp, "/console/{tenant_id}/content/new", role=Role.OPS, summary="A new content item's form")
def content_new(pc: PageCtx, tenant_id: str) -> PageResult:
    kind = pc.query.get("kind") if pc.query.get("kind") in CONTENT_KINDS else "image"
    return Html("content/form.html", _content_form(pc, "新建素材", item=None, form={"kind": kind}))


@page(bp, "/console/{tenant_id}/content", ("POST",), role=Role.OPS, summary="Create a content item (with its file)")
def content_create(pc: PageCtx, tenant_id: str) -> PageResult:
    try:
        made = pc.svc.content.create(pc.tenant, content_data(pc.form, editing=False), upload_of(pc.files))
    except InvalidError as exc:
        context = _content_form(pc, "新建素材", item=None, form=pc.form, errors=field_errors(exc))
        return Html("content/form.html", context, status=400)
    return Redirect(f"{pc.base}/content/{quote(made.content_id)}", flash="素材已创建")


@page(bp, "/console/{tenant_id}/content/{content_id}", role=Role.OPS, summary="A content item: preview and edit")
def content_edit(pc: PageCtx, tenant_id: str, content_id: str) -> PageResult:
    item = pc.svc.content.item(tenant_id, content_id)
    form = {**item.public(), "tags": "，".join(item.tags), "stage": item.stage or "", "scene": item.scene or ""}
    return Html("content/form.html", _content_form(pc, item.title, item=item, form=form))


@page(bp, "/console/{tenant_id}/content/{content_id}", ("POST",), role=Role.OPS, summary="Save a content item")
def content_save(pc: PageCtx, tenant_id: str, content_id: str) -> PageResult:
    try:
        saved = pc.svc.content.edit(pc.tenant, content_id, content_data(pc.form, editing=True), upload_of(pc.files))
    except InvalidError as exc:
        item = pc.svc.content.item(tenant_id, content_id)
        context = _content_form(pc, item.title, item=item, form=pc.form, errors=field_errors(exc))
        return Html("content/form.html", context, status=400)
    return Redirect(f"{pc.base}/content/{quote(saved.content_id)}", flash="已保存")


@page(bp, "/console/{tenant_id}/content/{content_id}/delete", role=Role.OPS, summary="Confirm deleting an item")
def content_confirm(pc: PageCtx, tenant_id: str, content_id: str) -> PageResult:
    item = pc.svc.content.item(tenant_id, content_id)
    return Html("content/delete.html", _content_form(pc, f"删除素材：{item.title}", item=item))


@page(bp, "/console/{tenant_id}/content/{content_id}/delete", ("POST",), role=Role.OPS, summary="Delete an item")
def content_delete(pc: PageCtx, tenant_id: str, content_id: str) -> PageResult:
    pc.svc.content.delete(tenant_id, content_id)
    return Redirect(f"{pc.base}/content", flash="素材已删除")


@page(bp, "/console/{tenant_id}/content/{content_id}/file", role=Role.STAFF, summary="An item's file (previews)")
def content_file(pc: PageCtx, tenant_id: str, content_id: str) -> PageResult:
    ref, blob = pc.svc.content.file(tenant_id, content_id)
    inline = ref.content_type in INLINE_TYPES
    headers: dict[str, str | list[str]] = {
        "Content-Type": ref.content_type if inline else "application/octet-stream",
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(ref.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
    }
    return Response(body=blob.data, status_code=200, headers=headers)


# --- 话术库 -----------------------------------------------------------------------------------------------------------


def _script_form(title: str, **context: Any) -> dict[str, Any]:
    return {"title": title, "active": "/scripts", "errors": {}, **NAMES, **OPTIONS, **context}


@page(bp, "/console/{tenant_id}/scripts", role=Role.OPS, summary="The script library by stage and scene")
def script_list(pc: PageCtx, tenant_id: str) -> PageResult:
    return Html("content/scripts.html", _script_form("话术库", groups=pc.svc.scripts.grouped(tenant_id)))


@page(bp, "/console/{tenant_id}/scripts/new", role=Role.OPS, summary="A new script's form")
def script_new(pc: PageCtx, tenant_id: str) -> PageResult:
    form = {"stage": pc.query.get("stage", "new"), "scene": pc.query.get("scene", "icebreak")}
    return Html("content/script_form.html", _script_form("新建话术", script=None, form=form))


@page(bp, "/console/{tenant_id}/scripts", ("POST",), role=Role.OPS, summary="Create a script")
def script_create(pc: PageCtx, tenant_id: str) -> PageResult:
    try:
        made = pc.svc.scripts.create(pc.tenant, script_data(pc.form, editing=False))
    except InvalidError as exc:
        context = _script_form("新建话术", script=None, form=pc.form, errors=field_errors(exc))
        return Html("content/script_form.html", context, status=400)
    return Redirect(f"{pc.base}/scripts#s-{made.stage}-{made.scene}", flash="话术已创建")


@page(bp, "/console/{tenant_id}/scripts/{script_id}", role=Role.OPS, summary="A script's form")
def script_edit(pc: PageCtx, tenant_id: str, script_id: str) -> PageResult:
    script = pc.svc.scripts.script(tenant_id, script_id)
    form = {**script.public(), "content_ids": "，".join(script.content_ids), "order": str(script.order)}
    return Html("content/script_form.html", _script_form(script.title, script=script, form=form))


@page(bp, "/console/{tenant_id}/scripts/{script_id}", ("POST",), role=Role.OPS, summary="Save a script")
def script_save(pc: PageCtx, tenant_id: str, script_id: str) -> PageResult:
    try:
        saved = pc.svc.scripts.update(pc.tenant, script_id, script_data(pc.form, editing=True))
    except InvalidError as exc:
        script = pc.svc.scripts.script(tenant_id, script_id)
        context = _script_form(script.title, script=script, form=pc.form, errors=field_errors(exc))
        return Html("content/script_form.html", context, status=400)
    return Redirect(f"{pc.base}/scripts#s-{saved.stage}-{saved.scene}", flash="已保存")


@page(bp, "/console/{tenant_id}/scripts/{script_id}/delete", role=Role.OPS, summary="Confirm deleting a script")
def script_confirm(pc: PageCtx, tenant_id: str, script_id: str) -> PageResult:
    script = pc.svc.scripts.script(tenant_id, script_id)
    return Html("content/script_delete.html", _script_form(f"删除话术：{script.title}", script=script))


@page(bp, "/console/{tenant_id}/scripts/{script_id}/delete", ("POST",), role=Role.OPS, summary="Delete a script")
def script_delete(pc: PageCtx, tenant_id: str, script_id: str) -> PageResult:
    pc.svc.scripts.delete(tenant_id, script_id)
    return Redirect(f"{pc.base}/scripts", flash="话术已删除")
