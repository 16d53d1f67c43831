"""Temporary media (临时素材): media/upload (page 90389) and the 3-day life of a media_id.

WeCom takes the file as multipart/form-data (field ``media``, ``type`` in the query); the sandbox and the in-process
transport both hand the world ``{"type", "media": {"filename", "content_type", "size", "sha256"}}`` (``form_body``
reads the multipart), so the world keeps what it needs to judge a media_id, not the bytes.

Every API that takes a media_id (welcome messages, mass messages to customers or groups) checks it with
``check_attachments``: one this corp never uploaded, or uploaded more than 3 days ago, answers 40007, as WeCom does.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import Corp, Media, WorldState, digest

MEDIA_LIFETIME = 3 * 86_400
MB = 1024 * 1024
MAX_BYTES = {"image": 10 * MB, "voice": 2 * MB, "video": 10 * MB, "file": 20 * MB}
SIZE_ERRCODE = {"image": 40009, "voice": 40010, "video": 40011, "file": 40006}
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg")
INVALID_MEDIA_ID = 40007
MEDIA_FIELDS = {"image": "media_id", "video": "media_id", "file": "media_id", "miniprogram": "pic_media_id"}


def describe(media_type: str, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
    """The world's body for an upload of ``data`` (what the sandbox's multipart and the in-process transport give)."""
    sha = hashlib.sha256(data).hexdigest()
    file = {"filename": filename, "content_type": content_type, "size": len(data), "sha256": sha}
    return {"type": media_type, "media": file}


def form_body(raw: bytes, content_type: str, media_type: str) -> dict[str, Any] | None:
    """The upload's body from a multipart/form-data request (None: not multipart, or no ``media`` part)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            data = part.get_payload(decode=True)
            filename = part.get_filename() or ""
            return describe(media_type, filename, part.get_content_type(), data if isinstance(data, bytes) else b"")
    return None


def upload(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    media_type = str(p.get("type") or "")
    if media_type not in MAX_BYTES:
        raise ApiError(40004)  # invalid media type
    file = p.get("media")
    if not isinstance(file, dict) or not file.get("filename"):
        raise ApiError(41005)  # media data missing
    size = int(file.get("size") or 0)
    if size <= 5:
        raise ApiError(40006)  # every file must be larger than 5 bytes
    if size > MAX_BYTES[media_type]:
        raise ApiError(SIZE_ERRCODE[media_type])
    if media_type == "image" and str(file.get("content_type", "")).lower() not in IMAGE_TYPES:
        raise ApiError(40005)  # images are JPG or PNG
    now = int(world.now())
    media_id = "3" + digest(corp.corp_id, "media", world.next_seq())[:40]
    corp.media[media_id] = Media(media_type, now, str(file["filename"]), size, str(file.get("sha256", "")))
    return {"type": media_type, "media_id": media_id, "created_at": str(now)}


def check_attachments(world: WorldState, corp: Corp, attachments: list[dict[str, Any]]) -> None:
    """40007 for an attachment whose media_id this corp never uploaded or uploaded more than 3 days ago."""
    now = world.now()
    for attachment in attachments:
        msgtype = str(attachment.get("msgtype", ""))
        body = attachment.get(msgtype)
        field = MEDIA_FIELDS.get(msgtype)
        if field is None or not isinstance(body, dict) or field not in body:
            continue  # no media (a link, or an image by pic_url)
        media = corp.media.get(str(body[field]))
        if media is None or now - media.created_at > MEDIA_LIFETIME:
            raise ApiError(INVALID_MEDIA_ID)


APIS = ApiSet({"media/upload": upload})
