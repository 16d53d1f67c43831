"""Repairs: WeCom side effects of a callback that failed or ran out of its time budget, to be made again later.

A callback answers within its budget (docs/operations.md, "Intake within WeCom's 5 s"); what it could not finish —
the profile sync, the tag marking, the contact way's rotation — becomes a RepairItem on the repair queue, which a
job drains with backoff until each succeeds or is given up (dead, with its reason, for operators). Each repair is
idempotent: marking a tag twice, or syncing the same profile twice, has one effect.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

PROFILE_SYNC = "profile_sync"  # externalcontact/get, then the customer's profile (and identity aliases)
MARK_TAG = "mark_tag"  # externalcontact/mark_tag with the channel's WeCom tags
CONTACT_WAY = "contact_way"  # externalcontact/update_contact_way: the channel's rotation
GROUP_REFETCH = "group_refetch"  # groupchat/get, then the group and its members reconciled (services/groups)
KINDS = frozenset({PROFILE_SYNC, MARK_TAG, CONTACT_WAY, GROUP_REFETCH})

MAX_RECEIVES = 8  # the 8th failed attempt makes the item dead (about 2 hours of backoff in all)
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600  # 45009 may block a caller for an hour: never wait longer than that between tries


class RepairFormatError(ValueError):
    """A queue message that is not a repair item (a poison message: it goes to the dead letters as it is)."""


@dataclass(frozen=True)
class RepairItem:
    """One repair: its kind, the tenant, and what the call needs (ids only: never names, phones or message text)."""

    kind: str
    tenant_id: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The item's identity (same kind, tenant and data: the same repair), for logs and dedupe."""
        text = json.dumps([self.kind, self.tenant_id, self.data], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "tenant_id": self.tenant_id, "data": self.data}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, *, letter: bool = True) -> RepairItem:
        """The item a message carries. A dead letter (``{"reason", "receives", "body"}``, as the job sends it to the
        DLQ) carries its item in ``body``: an operator's redrive from the DLQ back to the queue is thus a retry."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise RepairFormatError("not JSON") from exc
        if not isinstance(doc, dict):
            raise RepairFormatError("not an object")
        if letter and set(doc) == DEAD_LETTER_FIELDS and isinstance(doc["body"], str):
            return cls.from_json(doc["body"], letter=False)
        kind, tenant_id, data = doc.get("kind"), doc.get("tenant_id"), doc.get("data")
        if kind not in KINDS or not isinstance(tenant_id, str) or not tenant_id or not isinstance(data, dict):
            raise RepairFormatError("not a repair item")
        return cls(kind, tenant_id, data)


DEAD_LETTER_FIELDS = frozenset({"reason", "receives", "body"})  # what the job sends to the DLQ (repair_queue.py)


@dataclass(frozen=True)
class RepairDelivery:
    """An item as the queue handed it out: ``receipt`` acknowledges it, ``receives`` counts hand-outs (1 the first
    time). ``item`` is None for a message that is not a repair item (``body`` keeps it for the dead letters)."""

    item: RepairItem | None
    receipt: str
    receives: int
    body: str = ""


def backoff_seconds(receives: int, key: str) -> int:
    """The wait before the next try after ``receives`` failed ones: 30 s doubling to an hour, with a jitter of up to
    a quarter derived from the item's key, so items that failed together do not all come back in the same second."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, receives - 1))
    jitter = int(key[:8] or "0", 16) % (base // 4 + 1)
    return min(BACKOFF_CAP_SECONDS, base + jitter)
