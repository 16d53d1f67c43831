"""SOP plans (培育计划): a versioned table of touches, and the tenant's touch rules. Pure data, no clock, no AWS.

The JSON field names are part of the public API (see chalicelib/schemas/plan.schema.json): extend, don't rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.domain.messages import Message


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"
    ARCHIVED = "archived"


CONTENT_TYPES = ("interactive", "marketing", "service", "content")
TRIGGER_TYPES = ("channel", "tag", "stage", "manual")
EXIT_TYPES = ("order", "stage", "tag", "negative_reply")
REENTRY = ("never", "after_completion", "always")
LATENESS_THEN = ("next_slot", "skip")
ON_CAP = ("defer", "drop")


@dataclass(frozen=True)
class Lateness:
    """Send if at most ``max_minutes`` late; otherwise move to the next allowed slot, or skip."""

    max_minutes: int = 60
    then: str = "next_slot"  # next_slot | skip


@dataclass(frozen=True)
class Step:
    """One touch. Timing is either ``after_minutes`` (from enrollment) or ``day`` + ``at`` (the enrollment's local
    calendar date + ``day`` days at ``at`` "HH:MM" in the tenant's timezone)."""

    id: str
    content_type: str
    message: Message
    after_minutes: int | None = None
    day: int | None = None
    at: str | None = None
    executor: str = "owner"  # "owner" or a staff userid
    notes: str = ""  # 话术 for the staff member
    lateness: Lateness = field(default_factory=Lateness)
    on_cap: str = "defer"  # when the per-customer cap is hit: defer to the next allowed day, or drop


@dataclass(frozen=True)
class Trigger:
    type: str  # channel | tag | stage | manual
    channel_id: str | None = None
    tag_id: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class Audience:
    tags_all: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    recheck_at_fire: bool = True  # re-validate the audience when a touch fires


@dataclass(frozen=True)
class ExitRule:
    type: str  # order | stage | tag | negative_reply
    kind: str | None = None  # order kind: trial | full (None: any order)
    stage: str | None = None
    tag_id: str | None = None


@dataclass(frozen=True)
class Silence:
    days: int = 7
    then_plan_id: str | None = None


@dataclass(frozen=True)
class Plan:
    plan_id: str
    version: int
    name: str
    status: PlanStatus
    trigger: Trigger
    steps: tuple[Step, ...]
    audience: Audience = field(default_factory=Audience)
    exits: tuple[ExitRule, ...] = ()
    silence: Silence | None = None
    reentry: str = "never"
    priority: int = 0
    created_at: str = ""
    updated_at: str = ""

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@dataclass(frozen=True)
class Window:
    start: str  # "HH:MM", inclusive
    end: str  # "HH:MM", exclusive; end < start wraps past midnight


@dataclass(frozen=True)
class TouchRules:
    """Per-tenant rules every plan obeys. Defaults follow the field: nothing in quiet hours 22:00–08:00,
    interactive content by day, marketing in the evening, one marketing touch per customer per calendar day."""

    quiet_hours: Window | None = field(default_factory=lambda: Window("22:00", "08:00"))
    content_windows: dict[str, Window] = field(
        default_factory=lambda: {"interactive": Window("08:00", "18:00"), "marketing": Window("18:00", "22:00")}
    )
    daily_caps: dict[str, int] = field(default_factory=lambda: {"marketing": 1})  # per customer, all plans
    monthly_receive_limit: int | None = None  # WeCom's per-customer mass-message limit; None = days in month
