"""Ops pages for channels (渠道活码): the list with today's adds and CAC, create and edit, the QR poster; a link
channel (获客链接) shows its URL to copy and the corp's acquisition quota with its warning.

Thin like the JSON API's routes (api/channels.py): parse the form, validate it against the same schema, one service
call, render. A refused form comes back with each problem next to its field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from chalice import Blueprint, Response

from chalicelib import schemas
from chalicelib.console import channel_form
from chalicelib.console.channel_form import KIND_LABELS, MODE_LABELS, SOURCE_LABELS, ChannelForm
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.acquisition import LINK
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError

bp = Blueprint(__name__)

PAGE_SIZE = 50
KINDS = {"standard": "渠道活码", "referral": "老带新"}


def _form_page(pc: PageCtx, form: ChannelForm, channel_id: str | None, status: int = 200) -> Html:
    editor = pc.svc.channels.editor(pc.tenant_id, channel_id)
    return Html(
        "channels/form.html",
        {
            "title": "编辑渠道" if channel_id else "新建渠道",
            "active": "/channels",
            "form": form,
            "channel": editor.channel,
            "staff": editor.staff,
            "staff_options": [(m.userid, f"{m.name}（{m.userid}）") for m in editor.staff],
            "plans": editor.plans,
            "sources": list(SOURCE_LABELS.items()),
            "modes": list(MODE_LABELS.items()),
            "channel_kinds": list(KIND_LABELS.items()),
        },
        status=status,
    )


def _save(pc: PageCtx, channel_id: str | None) -> PageResult:
    form, body = channel_form.parse(pc.form, pc.form_list("userids"))
    if not form.ok:
        return _form_page(pc, form, channel_id, status=400)
    if channel_id:
        body.pop("kind")  # a channel's kind is chosen once, at creation
    try:
        schemas.validate("channel_update" if channel_id else "channel_create", body)
        if channel_id:
            saved = pc.svc.channels.update(pc.tenant, channel_id, body)
        else:
            saved = pc.svc.channels.create(pc.tenant, body)
    except InvalidError as exc:
        channel_form.place(form, exc)
        return _form_page(pc, form, channel_id, status=400)
    return Redirect(f"{pc.base}/channels/{quote(saved.channel_id)}", flash="已保存" if channel_id else "渠道已创建")


@page(bp, "/console/{tenant_id}/channels", role=Role.OPS, summary="Channels with today's adds and CAC")
def channels(pc: PageCtx, tenant_id: str) -> PageResult:
    kind = pc.query.get("kind", "standard")
    kind = kind if kind in KINDS else "standard"
    board = pc.svc.metrics.channel_board(pc.tenant, kind=kind, cursor=pc.query.get("cursor") or None, limit=PAGE_SIZE)
    more = f"?{urlencode({'kind': kind, 'cursor': board.next_cursor})}" if board.next_cursor else ""
    links = any(r.channel.kind == LINK for r in board.rows)  # the quota matters (and is asked for) only then
    return Html(
        "channels/list.html",
        {
            "title": "渠道活码",
            "active": "/channels",
            "board": board,
            "kind": kind,
            "kinds": KINDS,
            "sources": SOURCE_LABELS,
            "more": more,
            "links": links,
            "quota": pc.svc.channels.quota(pc.tenant) if links else None,
        },
    )


@page(bp, "/console/{tenant_id}/channels/new", role=Role.OPS, summary="The form for a new channel")
def new_channel(pc: PageCtx, tenant_id: str) -> PageResult:
    return _form_page(pc, channel_form.empty(), None)


@page(bp, "/console/{tenant_id}/channels", ("POST",), role=Role.OPS, summary="Create a channel and its QR code")
def create_channel(pc: PageCtx, tenant_id: str) -> PageResult:
    return _save(pc, None)


@page(bp, "/console/{tenant_id}/channels/{channel_id}", role=Role.OPS, summary="A channel: its code and poster")
def channel(pc: PageCtx, tenant_id: str, channel_id: str) -> PageResult:
    found = pc.svc.channels.get(tenant_id, channel_id)
    quota = pc.svc.channels.quota(pc.tenant) if found.kind == LINK else None
    return Html("channels/detail.html", {**_detail(found), "quota": quota, "url": found.public()["url"]})


def _detail(c: Any) -> dict[str, Any]:
    return {
        "title": c.name,
        "active": "/channels",
        "c": c,
        "source": SOURCE_LABELS.get(c.source, c.source),
        "mode": MODE_LABELS.get(c.assignment.mode, c.assignment.mode),
        "dashboard": f"?{urlencode({'by': 'channel', 'value': c.channel_id})}",
    }


@page(bp, "/console/{tenant_id}/channels/{channel_id}/edit", role=Role.OPS, summary="The form to edit a channel")
def edit_channel(pc: PageCtx, tenant_id: str, channel_id: str) -> PageResult:
    editor = pc.svc.channels.editor(tenant_id, channel_id)
    assert editor.channel is not None  # editor() raises NotFound otherwise
    return _form_page(pc, channel_form.from_channel(editor.channel), channel_id)


@page(bp, "/console/{tenant_id}/channels/{channel_id}", ("POST",), role=Role.OPS, summary="Save a channel's edit")
def update_channel(pc: PageCtx, tenant_id: str, channel_id: str) -> PageResult:
    return _save(pc, channel_id)


@page(
    bp, "/console/{tenant_id}/channels/{channel_id}/poster.png", role=Role.OPS, summary="The channel's QR poster (PNG)"
)
def poster(pc: PageCtx, tenant_id: str, channel_id: str) -> PageResult:
    png = pc.svc.channels.poster(tenant_id, channel_id)
    disposition = "attachment" if pc.query.get("download") else "inline"
    headers: dict[str, str | list[str]] = {
        "Content-Type": "image/png",
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'{disposition}; filename="poster-{channel_id}.png"',
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body=png, status_code=200, headers=headers)
