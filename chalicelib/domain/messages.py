"""Messages (text plus attachments): what welcome messages and staff tasks carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """A message attachment in WeCom's shape: msgtype plus its body (image/link/miniprogram/video/file)."""

    msgtype: str
    body: dict[str, Any]

    def to_wecom(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype, self.msgtype: self.body}


@dataclass(frozen=True)
class Message:
    """Text plus up to 9 attachments: the body of welcome messages and mass-message tasks."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
