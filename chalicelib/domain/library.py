"""The content library (素材库) and the script library (话术库). Pure: no clock, no AWS, no WeCom.

A content item is one thing a message can carry — a text, an image, a file, a link or a mini-program card — kept once
and referenced by id (``Message.content_ids``) from plan steps, group steps, group content and channel welcome
messages, so nobody pastes copies. Its bytes live in the blob store (``FileRef``); what WeCom needs to send it is a
``media_id`` from ``media/upload``, which lives 3 days (``MediaRef``): ``needs_upload`` says when to upload again.

A script (话术) is what a staff member says at a stage of the customer's journey in one of four scenes (破冰, 需求挖掘,
异议处理, 促单): text, optionally with content items to send along. The sidebar shows the scripts of the customer's
stage; a plan step may name one (``script_id``) as its staff notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.customers import Stage
from chalicelib.domain.messages import Attachment

CONTENT_KINDS: dict[str, str] = {
    "text": "文本",
    "image": "图片",
    "file": "文件",
    "link": "链接",
    "miniprogram": "小程序",
}
SCENES: dict[str, str] = {
    "icebreak": "破冰",
    "discovery": "需求挖掘",
    "objection": "异议处理",
    "closing": "促单",
}
STAGES = tuple(s.value for s in Stage)
STAGE_NAMES: dict[str, str] = {
    "new": "新客",
    "nurturing": "培育中",
    "hot": "高意向",
    "trial": "体验课",
    "converted": "已转化",
    "silent": "沉默",
    "lost": "流失",
}

# WeCom media/upload (page 90389): the media type each kind uploads as, and the documented size limits.
MEDIA_TYPE_OF = {"image": "image", "file": "file", "miniprogram": "image"}  # a card's cover is an image
MAX_BYTES = {"image": 10 * 1024 * 1024, "file": 20 * 1024 * 1024, "miniprogram": 10 * 1024 * 1024}
MIN_BYTES = 6  # "所有文件size必须大于5个字节"
IMAGE_TYPES = ("image/png", "image/jpeg")  # WeCom takes JPG and PNG images
MEDIA_LIFETIME = 3 * 86_400  # a media_id lives 3 days
MEDIA_MARGIN = 3_600  # upload again when less than this is left before a send
MAX_TITLE = 64  # WeCom's mini-program title limit; links take 128, one limit for all keeps the library simple
MAX_REFS = 9  # a message's attachments (WeCom) bound its references too


@dataclass(frozen=True)
class FileRef:
    """The item's bytes in the blob store (``key`` under the tenant) and what a download or preview needs."""

    key: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class MediaRef:
    """WeCom's temporary media for the file ``of`` (a file key): gone ``MEDIA_LIFETIME`` after ``uploaded_at``."""

    media_id: str
    uploaded_at: int  # unix seconds, WeCom's created_at
    of: str


@dataclass(frozen=True)
class ContentItem:
    content_id: str
    kind: str  # a CONTENT_KINDS key
    title: str
    text: str = ""  # text items: the text; others: a description (a link's desc)
    url: str = ""  # link: where it goes
    appid: str = ""  # miniprogram
    page: str = ""  # miniprogram: the page path (.html)
    picurl: str = ""  # link: its cover image URL
    file: FileRef | None = None  # image, file: the bytes; miniprogram: its cover image
    tags: tuple[str, ...] = ()
    stage: str | None = None  # where in the journey it is used (optional)
    scene: str | None = None
    created_at: str = ""
    updated_at: str = ""
    rev: int = 0
    media: MediaRef | None = field(default=None, compare=False)  # kept beside the item, not part of its content

    @property
    def needs_file(self) -> bool:
        return self.kind in MEDIA_TYPE_OF

    @property
    def complete(self) -> bool:
        """Whether it can be sent: a kind with bytes has them."""
        return not self.needs_file or self.file is not None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "content_id": self.content_id,
            "kind": self.kind,
            "kind_name": CONTENT_KINDS.get(self.kind, self.kind),
            "title": self.title,
            "text": self.text,
            "tags": list(self.tags),
            "stage": self.stage,
            "scene": self.scene,
            "complete": self.complete,
            "rev": self.rev,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.kind == "link":
            out.update(url=self.url, picurl=self.picurl)
        if self.kind == "miniprogram":
            out.update(appid=self.appid, page=self.page)
        if self.file is not None:
            f = self.file
            out["file"] = {"filename": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}
        return out


@dataclass(frozen=True)
class Script:
    script_id: str
    stage: str  # a STAGES value
    scene: str  # a SCENES key
    title: str
    text: str
    content_ids: tuple[str, ...] = ()  # content items to send along with it
    order: int = 0  # its place within its stage and scene
    created_at: str = ""
    updated_at: str = ""
    rev: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "script_id": self.script_id,
            "stage": self.stage,
            "stage_name": STAGE_NAMES.get(self.stage, self.stage),
            "scene": self.scene,
            "scene_name": SCENES.get(self.scene, self.scene),
            "title": self.title,
            "text": self.text,
            "content_ids": list(self.content_ids),
            "order": self.order,
            "rev": self.rev,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def script_sort_key(script: Script) -> tuple[int, int, int, str]:
    """Stage in journey order, then scene in conversation order (破冰 → 促单), then ``order``, then id."""
    stage = STAGES.index(script.stage) if script.stage in STAGES else len(STAGES)
    scene = list(SCENES).index(script.scene) if script.scene in SCENES else len(SCENES)
    return stage, scene, script.order, script.script_id


def grouped(scripts: list[Script]) -> list[tuple[str, str, list[Script]]]:
    """Scripts as (stage, scene, scripts) groups in journey and conversation order: how the pages show them."""
    out: list[tuple[str, str, list[Script]]] = []
    for script in sorted(scripts, key=script_sort_key):
        if out and out[-1][0] == script.stage and out[-1][1] == script.scene:
            out[-1][2].append(script)
        else:
            out.append((script.stage, script.scene, [script]))
    return out


def blob_key(content_id: str, version: str) -> str:
    """The blob (ports/blobs.py, under the tenant) of one upload of an item's file: every upload is a new key, so a
    media_id always names the bytes it was made from."""
    return f"content/{content_id}/{version}"


def blob_prefix(content_id: str) -> str:
    """Every blob of the item (deleted with it)."""
    return f"content/{content_id}/"


# --- sending ------------------------------------------------------------------------------------------------------


def needs_upload(item: ContentItem, now: float, margin: float = MEDIA_MARGIN) -> bool:
    """Whether the item's media must be uploaded (again) before a send at ``now``: none yet, made from another
    version of the file, or less than ``margin`` seconds of its 3 days left."""
    media = item.media
    if item.file is None:
        return False
    if media is None or media.of != item.file.key:
        return True
    return now >= media.uploaded_at + MEDIA_LIFETIME - margin


def attachment_of(item: ContentItem, media_id: str | None) -> Attachment | None:
    """The WeCom attachment an item sends as (None for a text item); ``media_id`` is its fresh media, if it has
    bytes. The attachment remembers its item, so a send that meets an expired media_id knows what to upload."""
    body: dict[str, Any]
    if item.kind == "text":
        return None
    if item.kind == "image" or item.kind == "file":
        body = {"media_id": media_id}
    elif item.kind == "link":
        body = {"title": item.title, "url": item.url}
        body.update({k: v for k, v in (("picurl", item.picurl), ("desc", item.text)) if v})
    elif item.kind == "miniprogram":
        body = {"title": item.title, "pic_media_id": media_id, "appid": item.appid, "page": item.page}
    else:
        raise ValueError(f"unknown content kind {item.kind}")
    return Attachment(msgtype=item.kind, body=body, content_id=item.content_id)


def merged_text(own: str, items: list[ContentItem]) -> str:
    """A message's text with its text items' texts after it, a blank line between each."""
    return "\n\n".join(t for t in [own, *(i.text for i in items if i.kind == "text")] if t)
