"""Reading a plan's JSON document: every field validated, every problem listed at once (writing it is Plan's own).

The JSON field names are part of the public API (see chalicelib/schemas/plan.schema.json): extend, don't rename.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.channels import MAX_WELCOME_TEXT_BYTES, message_from_json
from chalicelib.domain.group_plans import group_plan_problems, read_group_fields
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import (
    CONTENT_TYPES,
    EXIT_TYPES,
    GROUP_PLAN,
    LATENESS_THEN,
    MAX_MOMENT_TEXT,
    MAX_STEPS,
    MESSAGE_STEP,
    MOMENT_ATTACHMENTS,
    ON_CAP,
    OWNER,
    REENTRY,
    STAGES,
    STEP_KINDS,
    TIME_RE,
    TRIGGER_TYPES,
    Audience,
    ExitRule,
    Lateness,
    Plan,
    PlanStatus,
    Silence,
    Step,
    Trigger,
)
from chalicelib.errors import InvalidError


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
    content_id = raw_message.get("content_id") or None
    if content_id is not None:  # group content by reference: the piece's message, read when the step fires
        _check(
            problems,
            not (raw_message.get("text") or raw_message.get("attachments") or raw_message.get("content_ids")),
            f"{path}/message",
            "give content_id or text and attachments, not both (the step sends the content's message)",
        )
    elif size > MAX_WELCOME_TEXT_BYTES:
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
            not message.empty,
            f"{path}/message",
            "a step needs message text, an attachment or a content item (content_ids)",
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
        phase=raw.get("phase") or "",
        content_id=content_id,
        script_id=raw.get("script_id") or None,
        kind=raw.get("kind") or MESSAGE_STEP,
    )
    _check(problems, step.kind in STEP_KINDS, f"{path}/kind", f"kind must be one of {', '.join(STEP_KINDS)}")
    if step.is_moment:
        problems += moment_step_problems(step, path)
    _check(
        problems,
        step.lateness.then in LATENESS_THEN,
        f"{path}/lateness/then",
        f"then must be one of {', '.join(LATENESS_THEN)}",
    )
    _check(problems, step.on_cap in ON_CAP, f"{path}/on_cap", f"on_cap must be one of {', '.join(ON_CAP)}")
    return step


def moment_step_problems(step: Step, path: str) -> list[dict[str, str]]:
    """What add_moment_task would refuse, said before the plan is saved: text of at most 2,000 characters, only
    image, video and link attachments (9 at most, as any step), and no group content (a Moments post is a
    customer plan's)."""
    problems: list[dict[str, str]] = []
    text = step.message.text
    _check(
        problems,
        len(text) <= MAX_MOMENT_TEXT,
        f"{path}/message/text",
        f"a Moments post's text is at most {MAX_MOMENT_TEXT} characters, got {len(text)}",
    )
    kinds = {a.msgtype for a in step.message.attachments}
    _check(
        problems,
        kinds <= set(MOMENT_ATTACHMENTS),
        f"{path}/message/attachments",
        f"a Moments post carries only {', '.join(MOMENT_ATTACHMENTS)} attachments",
    )
    _check(problems, step.content_id is None, f"{path}/message/content_id", "a Moments step cannot send group content")
    return problems


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
        holdout_percent=int(data.get("holdout_percent") or 0),
    )
    _check(problems, bool(plan.name), "/name", "a plan needs a name")
    kind, groups, day0 = read_group_fields(data, problems)
    plan = replace(plan, kind=kind, groups=groups, day0=day0)
    if kind == GROUP_PLAN:
        problems += group_plan_problems(plan)
        for i, step in enumerate(plan.steps):
            _check(problems, not step.is_moment, f"/steps/{i}/kind", "Moments steps (朋友圈) are for customer plans")
        _check(
            problems,
            plan.holdout_percent == 0,
            "/holdout_percent",
            "a holdout (对照组) is for customer plans: a group plan's touches reach whole groups, so no customer "
            "could be held out; leave holdout_percent out or 0",
        )
    else:
        for i, step in enumerate(plan.steps):
            negative = step.day is not None and step.day < 0
            _check(problems, not negative, f"/steps/{i}/day", "day must be ≥ 0 (negative days are a group plan's)")
            by_id = f"/steps/{i}/message/content_id"
            _check(problems, step.content_id is None, by_id, "group content (content_id) is for group plans' steps")
    return plan, problems


def keeps_kind(current: Plan, merged: dict[str, Any]) -> dict[str, Any]:
    """An edit's document, refused (InvalidError) when it would change the plan's kind: its enrollments are of that
    kind (customers or groups), and so are its versions."""
    if str(merged.get("kind") or "customer") != current.kind:
        raise InvalidError(
            f"a plan's kind cannot change: this one reaches {current.kind}s; create a new plan instead",
            details=[{"path": "/kind", "message": "a plan's kind cannot change"}],
        )
    return merged
