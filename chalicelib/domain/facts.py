"""Facts: the append-only record of what happened, one per distinct event, keyed so a repeat cannot add a second.

Facts feed the customer timeline now and the funnel counters later (which can be rebuilt from them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fact:
    tenant_id: str
    customer_id: str
    create_time: int  # the event's own time (epoch seconds), which orders the timeline
    digest: str  # the event's dedupe digest
    type: str  # the WeCom change type, or a Siyu fact such as "tags_changed"
    at: str  # ISO-8601 of create_time in the tenant's zone
    userid: str = ""
    channel_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "at": self.at,
            "userid": self.userid or None,
            "channel_id": self.channel_id or None,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class StaffDayDelta:
    """Increments to one staff member's counters for one local day, applied atomically with a fact."""

    userid: str
    date: str
    counts: dict[str, int]


@dataclass(frozen=True)
class Alias:
    """An identity pointer (ext / unionid / phone digest → customer). ``erased_at`` marks an erasure tombstone."""

    kind: str
    digest: str
    customer_id: str = ""
    erased_at: int | None = None
