"""SOP plans (培育计划): a versioned table of touches, and the tenant's touch rules. Pure data, no clock, no AWS.

The JSON field names are part of the public API (see chalicelib/schemas/plan.schema.json): extend, don't rename.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.channels import message_to_json
from chalicelib.domain.customers import Stage
from chalicelib.domain.messages import Message


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"
    ARCHIVED = "archived"


CONTENT_TYPES = ("interactive", "marketing", "service", "content", "practice", "announcement")
# A plan's subjects: customers one by one, or customer groups (社群) on their cohort's calendar (domain/group_plans.py).
CUSTOMER_PLAN, GROUP_PLAN = "customer", "group"
PLAN_KINDS = (CUSTOMER_PLAN, GROUP_PLAN)
TRIGGER_TYPES = ("channel", "tag", "stage", "manual")
EXIT_TYPES = ("order", "stage", "tag", "negative_reply")
REENTRY = ("never", "after_completion", "always")
LATENESS_THEN = ("next_slot", "skip")
ON_CAP = ("defer", "drop")
# What a step does: a confirm-to-send message (企业群发), or a Moments post (朋友圈, issue 14 §4: docs/moments.md).
MESSAGE_STEP, MOMENT_STEP = "message", "moment"
STEP_KINDS = (MESSAGE_STEP, MOMENT_STEP)
# How a plan sheet may name a step's kind (services/plan_import.py): empty is a message.
STEP_KIND_WORDS = {"": MESSAGE_STEP, "message": MESSAGE_STEP, "群发": MESSAGE_STEP, "消息": MESSAGE_STEP} | {
    "moment": MOMENT_STEP, "朋友圈": MOMENT_STEP, "发朋友圈": MOMENT_STEP}  # fmt: skip
MOMENT_MONTHLY_CAP = 4  # the field's rule of thumb: about four Moments a month reach one customer
MAX_MOMENT_TEXT = 2000  # add_moment_task's text.content: at most 2,000 characters ('invalid text size')
MOMENT_ATTACHMENTS = ("image", "video", "link")  # what a Moments post carries (by media_id)


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
    title: str = ""  # 事项: what this touch is, in a few words (shown with the staff task and in the simulator)
    phase: str = ""  # a group plan's named phase (预热, 开营, 正课, 结营…): how a camp calendar is read
    # A group plan's step may send a piece of group content (群规, 公告…) by id instead of its own message: the kernel
    # reads the piece when the step fires (services/sop/content.py), so an edit reaches every step that uses it.
    content_id: str | None = None
    # A script of the 话术库 (domain/library.py): its text joins ``notes`` when the step fires (sop/content.py).
    script_id: str | None = None
    # MOMENT_STEP: the staff member posts ``message`` to the Moments of the customers due (add_moment_task).
    kind: str = MESSAGE_STEP

    @property
    def is_moment(self) -> bool:
        return self.kind == MOMENT_STEP


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
class GroupAudience:
    """Which groups a group plan targets (an empty field does not narrow): by type, cohort (期), ops' tags (any of
    them), or an explicit list of chat ids."""

    types: tuple[str, ...] = ()
    cohorts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    chat_ids: tuple[str, ...] = ()


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
    goal: str = ""  # the one sentence ops write: for [audience] who need [need], through [solution], reach [effect]
    published_at: str = ""  # when this version first went live ("" while a draft)
    current_version: int = 0  # the plan's current version when this one was read (old versions stay readable)
    rev: int = 0  # storage revision of the plan: every change bumps it, writes are conditional on it
    kind: str = CUSTOMER_PLAN  # its subjects: customers, or groups (GROUP_PLAN)
    groups: GroupAudience = field(default_factory=GroupAudience)  # a group plan's audience
    day0: str | None = None  # a group plan's fixed day 0 (YYYY-MM-DD, a 群发's date); None: each group's cohort start
    # 对照组: this percentage of the plan's customers (domain/metrics/holdout.py) get none of its touches, so its lift
    # can be measured. Part of the version, like every field of the document; customer plans only.
    holdout_percent: int = 0

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def public(self) -> dict[str, Any]:
        """The plan as the API shows it: the JSON document (plan.schema.json) plus its read-only metadata."""
        return {
            "plan_id": self.plan_id,
            "version": self.version,
            "current_version": self.current_version or self.version,
            "status": self.status.value,
            **plan_to_json(self),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "published_at": self.published_at or None,
        }

    def summary(self) -> dict[str, Any]:
        """One line of a plan list: no steps, just what tells plans apart."""
        return {
            "plan_id": self.plan_id,
            "name": self.name,
            "status": self.status.value,
            "version": self.version,
            "priority": self.priority,
            "trigger": _trigger_to_json(self.trigger),
            "step_count": len(self.steps),
            "kind": self.kind,
            **({"holdout_percent": self.holdout_percent} if self.kind == CUSTOMER_PLAN else {}),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "published_at": self.published_at or None,
        }


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
    monthly_moment_cap: int = MOMENT_MONTHLY_CAP  # Moments posts one customer sees per calendar month, all plans


# --- the plan's JSON document ------------------------------------------------------------------------------------
# The shape is chalicelib/schemas/plan.schema.json. The schema checks types and ranges; plan_from_json adds what a
# schema cannot say (unique step ids, text length in UTF-8 bytes, one timing form per step) and reports every
# problem at once with its JSON path, so ops fix a plan in one round instead of one error per request.

OWNER = "owner"  # the executor meaning "the customer's owner" (跟进人)
MAX_STEPS = 100
MAX_ATTACHMENTS = 9
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
STAGES = tuple(s.value for s in Stage)


def _trigger_to_json(t: Trigger) -> dict[str, Any]:
    out: dict[str, Any] = {"type": t.type}
    for name in ("channel_id", "tag_id", "stage"):
        if getattr(t, name) is not None:
            out[name] = getattr(t, name)
    return out


def _step_to_json(s: Step) -> dict[str, Any]:
    timing: dict[str, Any] = (
        {"after_minutes": s.after_minutes} if s.after_minutes is not None else {"day": s.day, "at": s.at}
    )
    return {
        "id": s.id,
        **timing,
        "title": s.title,
        "content_type": s.content_type,
        "message": {"content_id": s.content_id} if s.content_id else message_to_json(s.message),
        "executor": s.executor,
        "notes": s.notes,
        **({"script_id": s.script_id} if s.script_id else {}),
        "lateness": {"max_minutes": s.lateness.max_minutes, "then": s.lateness.then},
        "on_cap": s.on_cap,
        **({"phase": s.phase} if s.phase else {}),
        **({"kind": s.kind} if s.is_moment else {}),
    }


def _exit_to_json(e: ExitRule) -> dict[str, Any]:
    out: dict[str, Any] = {"type": e.type}
    for name in ("kind", "stage", "tag_id"):
        if getattr(e, name) is not None:
            out[name] = getattr(e, name)
    return out


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan's content as its JSON document (no metadata): what is stored, compared and round-tripped."""
    a = plan.audience
    return {
        "name": plan.name,
        "goal": plan.goal,
        "trigger": _trigger_to_json(plan.trigger),
        "audience": {
            "tags_all": list(a.tags_all),
            "tags_any": list(a.tags_any),
            "tags_none": list(a.tags_none),
            "stages": list(a.stages),
            "channels": list(a.channels),
            "recheck_at_fire": a.recheck_at_fire,
        },
        "steps": [_step_to_json(s) for s in plan.steps],
        "exit": [_exit_to_json(e) for e in plan.exits],
        "silence": {"days": plan.silence.days, "then_plan_id": plan.silence.then_plan_id} if plan.silence else None,
        "reentry": plan.reentry,
        "priority": plan.priority,
        **(_group_fields(plan) if plan.kind == GROUP_PLAN else {"holdout_percent": plan.holdout_percent}),
    }


def _group_fields(plan: Plan) -> dict[str, Any]:
    """What only a group plan's document carries (a customer plan's document is as it always was)."""
    g = plan.groups
    audience = {"types": list(g.types), "cohorts": list(g.cohorts), "tags": list(g.tags), "chat_ids": list(g.chat_ids)}
    return {"kind": plan.kind, "group_audience": audience, **({"day0": plan.day0} if plan.day0 else {})}
