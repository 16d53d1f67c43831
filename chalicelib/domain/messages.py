"""Messages (text plus attachments): what welcome messages and staff tasks carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """A message attachment in WeCom's shape: msgtype plus its body (image/link/miniprogram/video/file).
    ``content_id``: the content library item it was made from (its media can be uploaded again), if any."""

    msgtype: str
    body: dict[str, Any]
    content_id: str | None = field(default=None, compare=False)

    def to_wecom(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype, self.msgtype: self.body}


@dataclass(frozen=True)
class Message:
    """Text plus up to 9 attachments: the body of welcome messages and mass-message tasks.

    ``content_ids`` name content library items (素材库) by reference: resolved into text and attachments when the
    message is sent (services/library.py), never copied into the plan or channel that names them."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    content_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.text.strip() or self.attachments or self.content_ids)
