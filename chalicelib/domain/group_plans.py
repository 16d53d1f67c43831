"""Group plans (社群 SOP): a plan whose subjects are customer groups, its steps on the cohort's calendar. Pure.

A group plan (``Plan.kind == "group"``) targets groups by type, cohort, ops' tags or an explicit chat-id list
(``GroupAudience``). Its steps are timed ``day`` + ``at`` on the cohort's calendar: day 0 is the group's
``setup.cohort_start`` (or the plan's fixed ``day0``, a 群发's date), negative days are the pre-camp week. Each touch
is judged by ``fate.decide`` like a customer's (quiet hours, content windows, the group's monthly receive limit);
``revalidate`` below is the group's share of that decision. The group's owner (群主) sends: WeCom sends a group
message only from the group's owner.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import timing
from chalicelib.domain.groups import DISMISSED, GROUP_TYPES, Group
from chalicelib.domain.plans import GROUP_PLAN, OWNER, Audience, GroupAudience, Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.sop import ACTIVE, COMPLETED, Enrollment, Touch

MIN_DAY = -60  # the earliest day a group plan's step may fall on (a pre-camp season of up to two months)
MAX_DAY = 365
MAX_AUDIENCE_ITEMS = 2000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Why a group's touch is not sent (revalidation), besides the reasons a customer's shares (enrollment_ended, plan_*).
GROUP_UNKNOWN = "group_unknown"  # no such group record (never synced, or removed)
GROUP_DISMISSED = "group_dismissed"  # WeCom dismissed the group (解散)
NO_OWNER = "group_has_no_owner"


def read_group_fields(data: dict[str, Any], problems: list[dict[str, str]]) -> tuple[str, GroupAudience, str | None]:
    """A plan document's kind, group audience and fixed day 0 (the schema checked their shapes)."""
    kind = str(data.get("kind") or "customer")
    raw = data.get("group_audience") or {}
    audience = GroupAudience(
        types=tuple(raw.get("types") or ()),
        cohorts=tuple(raw.get("cohorts") or ()),
        tags=tuple(raw.get("tags") or ()),
        chat_ids=tuple(raw.get("chat_ids") or ()),
    )
    day0 = data.get("day0") or None
    if kind != GROUP_PLAN:
        if raw or day0:
            problems.append({"path": "/kind", "message": "group_audience and day0 belong to a group plan (kind=group)"})
        return kind, audience, None
    for i, kind_code in enumerate(audience.types):
        if kind_code not in GROUP_TYPES:
            types = ", ".join(f"{k} ({v})" for k, v in GROUP_TYPES.items())
            problems.append({"path": f"/group_audience/types/{i}", "message": f"group type must be one of {types}"})
    if day0 is not None and not _valid_date(day0):
        problems.append({"path": "/day0", "message": f"day0 must be a date YYYY-MM-DD, got {day0!r}"})
    return kind, audience, day0


def group_plan_problems(plan: Plan) -> list[dict[str, str]]:
    """What a group plan may not carry: customer triggers, exits, silence, a customer audience, steps timed from
    the enrollment (a group's steps are on its cohort's calendar), or a sender other than the group's owner."""
    problems: list[dict[str, str]] = []

    def problem(path: str, message: str) -> None:
        problems.append({"path": path, "message": message})

    if plan.trigger.type != "manual":
        problem("/trigger/type", "a group plan is started by enrolling groups: its trigger is manual")
    if plan.exits:
        problem("/exit", "exit rules are about a customer's orders, stage and tags; a group plan has none")
    if plan.silence is not None:
        problem("/silence", "silence is about a customer's replies; a group plan has none")
    if plan.audience != Audience() and plan.audience != Audience(recheck_at_fire=False):
        problem("/audience", "a group plan targets groups: use group_audience (types, cohorts, tags, chat_ids)")
    for i, step in enumerate(plan.steps):
        if step.after_minutes is not None:
            problem(
                f"/steps/{i}",
                "a group plan's steps are on the cohort's calendar: give day (0 = the cohort's start, negative = "
                "before it) and at, not after_minutes",
            )
        elif step.day is not None and not MIN_DAY <= step.day <= MAX_DAY:
            problem(f"/steps/{i}/day", f"a group plan's day is from {MIN_DAY} to {MAX_DAY}, got {step.day}")
        if step.executor != OWNER:
            problem(
                f"/steps/{i}/executor",
                "WeCom sends a group message only from the group's owner (群主): the executor must be owner",
            )
    return problems


def matches(audience: GroupAudience, group: Group) -> bool:
    """Whether a group is in a group plan's audience: every criterion given must hold (tags: any of them)."""
    setup = group.setup
    if audience.chat_ids and group.chat_id not in audience.chat_ids:
        return False
    if audience.types and setup.type not in audience.types:
        return False
    if audience.cohorts and setup.cohort not in audience.cohorts:
        return False
    return not (audience.tags and not set(audience.tags) & set(setup.tags))


def day0_of(plan: Plan, group: Group) -> str | None:
    """The date day 0 of the plan's calendar falls on for this group: the plan's fixed day 0, else the cohort's."""
    return plan.day0 or group.setup.cohort_start


def refusal(plan: Plan, group: Group | None) -> str | None:
    """Why a group cannot be enrolled into a published group plan before anything is written (None: try)."""
    if group is None:
        return GROUP_UNKNOWN
    if group.state.status == DISMISSED:
        return GROUP_DISMISSED
    if not matches(plan.groups, group):
        return "audience_not_matched"
    day0 = day0_of(plan, group)
    if day0 is None or not _valid_date(day0):
        return "no_cohort_start"
    return None


def first_open_step(plan: Plan, day0: date, rules: TouchRules, zone: ZoneInfo, now: datetime) -> Step | None:
    """The first step whose due time is still ahead (a group enrolled mid-camp starts there: the calendar's past
    days are not sent late); None when the whole calendar is over."""
    for step in plan.steps:
        if timing.calendar_due(step, day0, rules, zone).due >= now:
            return step
    return None


def revalidate(
    *, plan: Plan | None, enrollment: Enrollment | None, group: Group | None, touch: Touch, step: Step | None
) -> str | None:
    """Why a group's due touch must not go out now (None: it may), with the group as it is at fire time: the same
    checks as a customer's where they apply (the enrollment, the plan's status), then the group's own."""
    if group is None:
        return GROUP_UNKNOWN
    if enrollment is None or enrollment.enrollment_id != touch.enrollment_id:
        return "enrollment_ended"
    if enrollment.status != ACTIVE and not (enrollment.status == COMPLETED and touch.occurrence > 0):
        return "enrollment_ended"
    if plan is None or step is None:
        return "plan_changed"
    if plan.status == PlanStatus.PAUSED:
        return "plan_paused"
    if plan.status == PlanStatus.ARCHIVED:
        return "plan_archived"
    if group.state.status == DISMISSED:
        return GROUP_DISMISSED
    if not group.state.owner:
        return NO_OWNER
    if not matches(plan.groups, group):
        return "audience"
    return None


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
