"""Staff (成员): the WeCom members who own customers and confirm tasks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STAFF_ROLES = ("sales", "consultant", "class_teacher", "ops", "lead", "other")
DEFAULT_DAILY_CAP = 200


@dataclass(frozen=True)
class Staff:
    userid: str
    name: str
    role: str = "sales"
    daily_cap: int = DEFAULT_DAILY_CAP  # new customers per local day across every channel
    active: bool = True
    lead_userid: str | None = None  # who overdue tasks escalate to (next issue)
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        return asdict(self)
