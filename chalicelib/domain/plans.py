"""SOP plans (培育计划): a versioned table of touches, and the tenant's touch rules. Pure data, no clock, no AWS.

The JSON field names are part of the public API (see chalicelib/schemas/plan.schema.json): extend, don't rename.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.channels import MAX_WELCOME_TEXT_BYTES, message_from_json, message_to_json
from chalicelib.domain.customers import Stage
from chalicelib.domain.messages import Message
from chalicelib.errors import InvalidError


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
    title: str = ""  # 事项: what this touch is, in a few words (shown with the staff task and in the simulator)


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
    goal: str = ""  # the one sentence ops write: for [audience] who need [need], through [solution], reach [effect]
    published_at: str = ""  # when this version first went live ("" while a draft)
    current_version: int = 0  # the plan's current version when this one was read (old versions stay readable)
    rev: int = 0  # storage revision of the plan: every change bumps it, writes are conditional on it

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


# --- the plan's JSON document ------------------------------------------------------------------------------------
# The shape is chalicelib/schemas/plan.schema.json. The schema checks types and ranges; plan_from_json adds what a
# schema cannot say (unique step ids, text length in UTF-8 bytes, one timing form per step) and reports every
# problem at once with its JSON path, so ops fix a plan in one round instead of one error per request.

OWNER = "owner"  # the executor meaning "the customer's owner" (跟进人)
MAX_STEPS = 100
MAX_ATTACHMENTS = 9
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
STAGES = tuple(s.value for s in Stage)


def _check(problems: list[dict[str, str]], ok: bool, path: str, message: str) -> None:
    if not ok:
        problems.append({"path": path, "message": message})


def _step_from_json(raw: dict[str, Any], path: str, problems: list[dict[str, str]]) -> Step:
    after, day, at = raw.get("after_minutes"), raw.get("day"), raw.get("at")
    by_minutes = after is not None and day is None and at is None
    by_day = after is None and day is not None and at is not None
    _check(problems, by_minutes or by_day, path, "give either after_minutes, or day and at (not both)")
    _check(problems, at is None or bool(TIME_RE.match(str(at))), f"{path}/at", f"at must be HH:MM, got {at!r}")
    content_type = raw.get("content_type", "")
    _check(
        problems,
        content_type in CONTENT_TYPES,
        f"{path}/content_type",
        f"content_type must be one of {', '.join(CONTENT_TYPES)}",
    )
    raw_message = raw.get("message") or {}
    size = len((raw_message.get("text") or "").encode("utf-8"))
    message = Message()
    if size > MAX_WELCOME_TEXT_BYTES:
        _check(
            problems,
            False,
            f"{path}/message/text",
            f"text is {size} bytes in UTF-8; WeCom allows {MAX_WELCOME_TEXT_BYTES}",
        )
    else:
        try:
            message = message_from_json(raw_message)
        except InvalidError as exc:
            _check(problems, False, f"{path}/message", exc.message)
        _check(
            problems,
            bool(message.text.strip() or message.attachments),
            f"{path}/message",
            "a step needs message text or at least one attachment",
        )
    lateness = raw.get("lateness") or {}
    step = Step(
        id=str(raw.get("id", "")),
        content_type=content_type,
        message=message,
        after_minutes=after,
        day=day,
        at=at,
        executor=raw.get("executor") or OWNER,
        notes=raw.get("notes") or "",
        lateness=Lateness(max_minutes=lateness.get("max_minutes", 60), then=lateness.get("then", "next_slot")),
        on_cap=raw.get("on_cap", "defer"),
        title=raw.get("title") or "",
    )
    _check(
        problems,
        step.lateness.then in LATENESS_THEN,
        f"{path}/lateness/then",
        f"then must be one of {', '.join(LATENESS_THEN)}",
    )
    _check(problems, step.on_cap in ON_CAP, f"{path}/on_cap", f"on_cap must be one of {', '.join(ON_CAP)}")
    return step


def _trigger_from_json(raw: dict[str, Any], problems: list[dict[str, str]]) -> Trigger:
    kind = raw.get("type", "manual")
    _check(problems, kind in TRIGGER_TYPES, "/trigger/type", f"trigger type must be one of {', '.join(TRIGGER_TYPES)}")
    needs = {"channel": "channel_id", "tag": "tag_id", "stage": "stage"}.get(kind)
    _check(problems, needs is None or bool(raw.get(needs)), f"/trigger/{needs}", f"a {kind} trigger needs {needs}")
    stage = raw.get("stage") if kind == "stage" else None
    _check(problems, stage is None or stage in STAGES, "/trigger/stage", f"stage must be one of {', '.join(STAGES)}")
    return Trigger(
        type=kind,
        channel_id=raw.get("channel_id") if kind == "channel" else None,
        tag_id=raw.get("tag_id") if kind == "tag" else None,
        stage=stage,
    )


def _exit_from_json(raw: dict[str, Any], path: str, problems: list[dict[str, str]]) -> ExitRule:
    kind = raw.get("type", "")
    _check(problems, kind in EXIT_TYPES, f"{path}/type", f"exit type must be one of {', '.join(EXIT_TYPES)}")
    needs = {"stage": "stage", "tag": "tag_id"}.get(kind)
    _check(problems, needs is None or bool(raw.get(needs)), f"{path}/{needs}", f"a {kind} exit needs {needs}")
    order_kind = raw.get("kind") if kind == "order" else None
    _check(problems, order_kind in (None, "trial", "full"), f"{path}/kind", "order kind must be trial or full")
    return ExitRule(
        type=kind,
        kind=order_kind,
        stage=raw.get("stage") if kind == "stage" else None,
        tag_id=raw.get("tag_id") if kind == "tag" else None,
    )


def _check_order(steps: list[Step], problems: list[dict[str, str]]) -> None:
    """Steps run in list order (the engine schedules each one after the previous), so within each timing form
    their times must not go backwards. (The two forms compare only once a customer's join time is known.)"""
    latest: dict[bool, Step] = {}
    for i, step in enumerate(steps):
        by_minutes = step.after_minutes is not None
        key, before = _order_key(step), latest.get(by_minutes)
        if key is None:
            continue
        if before is not None and key < (_order_key(before) or key):
            problems.append(
                {
                    "path": f"/steps/{i}",
                    "message": f"steps run in list order, but step {step.id!r} ({_when(step)}) is earlier than step "
                    f"{before.id!r} ({_when(before)}) above it",
                }
            )
        else:
            latest[by_minutes] = step


def _order_key(step: Step) -> tuple[int, str] | None:
    if step.after_minutes is not None:
        return step.after_minutes, ""
    return (step.day, step.at) if step.day is not None and step.at is not None else None


def _when(step: Step) -> str:
    return (
        f"{step.after_minutes} minutes after enrollment"
        if step.after_minutes is not None
        else f"day {step.day} {step.at}"
    )


def plan_from_json(data: dict[str, Any]) -> Plan:
    """A plan's content from its JSON document, as a draft version 1 without an id (the service assigns those).

    Raises InvalidError whose ``details`` list every problem as ``{"path", "message"}``.
    """
    plan, problems = read_plan(data)
    if problems:
        raise InvalidError(f"the plan is invalid ({len(problems)} error(s))", details=problems)
    return plan


def read_plan(data: dict[str, Any]) -> tuple[Plan, list[dict[str, str]]]:
    """The plan as far as it can be read, and the document's problems: lets a caller add its own checks (staff,
    channels, tags) and report everything in one answer. The document must already fit plan.schema.json."""
    problems: list[dict[str, str]] = []
    raw_steps = data.get("steps") or []
    _check(problems, 0 < len(raw_steps) <= MAX_STEPS, "/steps", f"a plan has 1 to {MAX_STEPS} steps")
    steps: list[Step] = []
    first_use: dict[str, int] = {}
    for i, raw in enumerate(raw_steps):
        step = _step_from_json(raw, f"/steps/{i}", problems)
        _check(
            problems,
            step.id not in first_use,
            f"/steps/{i}/id",
            f"step id {step.id!r} is already used by step {first_use.get(step.id)}; step ids must be unique",
        )
        first_use.setdefault(step.id, i)
        steps.append(step)
    _check_order(steps, problems)
    audience = data.get("audience") or {}
    silence = data.get("silence")
    reentry = data.get("reentry", "never")
    _check(problems, reentry in REENTRY, "/reentry", f"reentry must be one of {', '.join(REENTRY)}")
    stages = tuple(audience.get("stages") or ())
    _check(problems, set(stages) <= set(STAGES), "/audience/stages", f"stages must be among {', '.join(STAGES)}")
    plan = Plan(
        plan_id="",
        version=1,
        name=str(data.get("name", "")).strip(),
        status=PlanStatus.DRAFT,
        trigger=_trigger_from_json(data.get("trigger") or {}, problems),
        steps=tuple(steps),
        audience=Audience(
            tags_all=tuple(audience.get("tags_all") or ()),
            tags_any=tuple(audience.get("tags_any") or ()),
            tags_none=tuple(audience.get("tags_none") or ()),
            stages=stages,
            channels=tuple(audience.get("channels") or ()),
            recheck_at_fire=bool(audience.get("recheck_at_fire", True)),
        ),
        exits=tuple(_exit_from_json(r, f"/exit/{i}", problems) for i, r in enumerate(data.get("exit") or [])),
        silence=Silence(days=silence.get("days", 7), then_plan_id=silence.get("then_plan_id")) if silence else None,
        reentry=reentry,
        priority=int(data.get("priority", 0)),
        goal=data.get("goal") or "",
    )
    _check(problems, bool(plan.name), "/name", "a plan needs a name")
    return plan, problems


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
        "message": message_to_json(s.message),
        "executor": s.executor,
        "notes": s.notes,
        "lateness": {"max_minutes": s.lateness.max_minutes, "then": s.lateness.then},
        "on_cap": s.on_cap,
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
    }
