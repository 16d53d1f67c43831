"""The content library (素材库) under /t/{tenant_id}/content: texts, images, files, links and mini-program cards that
plan steps, group content, channel welcome messages and scripts name by id (``content_ids``) instead of pasting."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib.api.common import PAGINATION, Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.library import CONTENT_KINDS, SCENES, STAGES
from chalicelib.domain.tenants import Role
from chalicelib.errors import UnsupportedMediaTypeError

bp = Blueprint(__name__)

# What a file arrives as: API Gateway hands these over as bytes (Chalice's default binary types). JSON is accepted
# only to answer it with a clear 415 after authentication (as the plan import does).
UPLOAD_TYPES = ["image/png", "image/jpeg", "application/octet-stream"]
FILE_TYPES = [*UPLOAD_TYPES, "application/json"]
INLINE_TYPES = ("image/png", "image/jpeg")  # shown in the page; anything else downloads
FILTERS: dict[str, dict[str, Any]] = {
    "kind": {"enum": list(CONTENT_KINDS)},
    "tag": {"type": "string", "minLength": 1, "maxLength": 30},
    "stage": {"enum": list(STAGES)},
    "scene": {"enum": list(SCENES)},
}


@route(
    bp,
    "/t/{tenant_id}/content",
    "POST",
    summary="Create a content item (its file follows with PUT …/file)",
    auth="tenant",
    role=Role.OPS,
    body="content_create",
    status=201,
    tag="content",
    idempotent=True,
)
def create_content(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return services().content.create(ctx.tenant, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/content",
    "GET",
    summary="List content items (kind, tag, stage, scene)",
    auth="tenant",
    role=Role.VIEWER,
    query={**PAGINATION, **FILTERS},
    tag="content",
)
def list_content(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    a = ctx.args
    page = services().content.list(
        tenant_id,
        kind=a.get("kind"),
        tag=a.get("tag"),
        stage=a.get("stage"),
        scene=a.get("scene"),
        cursor=ctx.cursor(),
        limit=a.get("limit", 20),
    )
    return {"items": [c.public() for c in page.items], "next_cursor": page.next_cursor}


@route(
    bp,
    "/t/{tenant_id}/content/{content_id}",
    "GET",
    summary="Read a content item",
    auth="tenant",
    role=Role.VIEWER,
    tag="content",
)
def get_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    return services().content.item(tenant_id, content_id).public()


@route(
    bp,
    "/t/{tenant_id}/content/{content_id}",
    "PUT",
    summary="Change a content item; 409 on a stale rev (the same change twice is answered as made)",
    auth="tenant",
    role=Role.OPS,
    body="content_update",
    tag="content",
)
def update_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    return services().content.update(ctx.tenant, content_id, ctx.body).public()


@route(
    bp,
    "/t/{tenant_id}/content/{content_id}",
    "DELETE",
    summary="Delete a content item and its files (steps that still name it fail their touches: content_deleted)",
    auth="tenant",
    role=Role.OPS,
    status=204,
    tag="content",
)
def delete_content(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    services().content.delete(tenant_id, content_id)
    return {}


@route(
    bp,
    "/t/{tenant_id}/content/{content_id}/file",
    "PUT",
    summary="Upload an item's file as the body (image/png, image/jpeg, or application/octet-stream with ?filename)",
    auth="tenant",
    role=Role.OPS,
    query={
        "filename": {"type": "string", "minLength": 1, "maxLength": 128, "description": "shown in WeCom"},
        "rev": {"type": "integer", "minimum": 1, "description": "only if the item is still at this rev"},
    },
    tag="content",
    content_types=FILE_TYPES,
)
def put_content_file(ctx: Ctx, tenant_id: str, content_id: str) -> dict[str, Any]:
    content_type = (ctx.request.headers or {}).get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in UPLOAD_TYPES:
        raise UnsupportedMediaTypeError(f"send the file itself as the body: {', '.join(UPLOAD_TYPES)}")
    filename = ctx.args.get("filename") or "file"
    from chalicelib.services.library import Upload  # here: `import app` does not load the library service

    upload = Upload(filename, content_type, ctx.request.raw_body or b"")
    return services().content.put_file(ctx.tenant, content_id, upload, rev=ctx.args.get("rev")).public()


@route(
    bp,
    "/t/{tenant_id}/content/{content_id}/file",
    "GET",
    summary="Download an item's file (images inline, others as an attachment)",
    auth="tenant",
    role=Role.VIEWER,
    tag="content",
)
def get_content_file(ctx: Ctx, tenant_id: str, content_id: str) -> Response:
    ref, blob = services().content.file(tenant_id, content_id)
    inline = ref.content_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    headers: dict[str, str | list[str]] = {
        "Content-Type": ref.content_type if inline else "application/octet-stream",
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(ref.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
    }
    return Response(body=blob.data, status_code=200, headers=headers)
