"""Group content (社群内容): the texts a group runs on — rules (群规), announcement (群公告), welcome text (入群欢迎语)
and FAQ snippets (FAQ话术) — kept once per tenant and referenced by id from group plan steps and staff tasks. Pure.

A piece is tenant-wide, or belongs to one group (``chat_id``) when that group needs its own version (its own rules
or announcement). A group plan's step names a piece by ``content_id`` (``Step.content_id``); ``step_with`` is what
that step sends when it fires. Its message follows the rules every message here follows
(channels.message_from_json: ≤ 4000 bytes of text, ≤ 9 attachments).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.channels import message_to_json
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Step

CONTENT_KINDS: dict[str, str] = {
    "rules": "群规",
    "announcement": "群公告",
    "welcome": "入群欢迎语",
    "faq": "FAQ话术",
}


@dataclass(frozen=True)
class GroupContent:
    content_id: str
    kind: str  # a CONTENT_KINDS key
    title: str
    message: Message = field(default_factory=Message)
    chat_id: str | None = None  # None: for every group of the tenant; else for this group only
    notes: str = ""  # for the staff who use it (when to post it, what to say around it)
    created_at: str = ""
    updated_at: str = ""
    rev: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "content_id": self.content_id,
            "kind": self.kind,
            "kind_name": CONTENT_KINDS.get(self.kind, self.kind),
            "title": self.title,
            "message": message_to_json(self.message),
            "chat_id": self.chat_id,
            "notes": self.notes,
            "rev": self.rev,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def preview(self) -> dict[str, Any]:
        """What a plan's simulation shows of the piece a step sends: its title, text and notes (not its body)."""
        return {
            "content_id": self.content_id,
            "kind": self.kind,
            "title": self.title,
            "text": self.message.text,
            "attachments": len(self.message.attachments),
            "notes": self.notes,
        }


def step_with(step: Step, content: GroupContent) -> Step:
    """The step as it goes out now: the piece's current message (text and attachments), the piece's title when the
    step has none, and the step's script notes followed by the piece's notes (both reach the staff task)."""
    notes = "\n\n".join(n for n in (step.notes, content.notes) if n)
    return replace(step, message=content.message, title=step.title or content.title, notes=notes)
