"""A group plan's calendar for a cohort starting on a given date: what the engine will do to one group's touches.

Pure and deterministic, on a virtual clock like the customer simulator (domain/simulate.py): every touch is judged by
``fate.decide`` and a refused quota by ``fate.on_refused`` — the group policy's own decision — so quiet hours, content
windows, the daily caps and the group's monthly receive limit show as they will happen, each deferral named. The
clock queues touches as the kernel does: a step's next step is queued when the step is sent, dropped, skipped for
lateness or moved, and fires when its bucket would (``fate.fires_at``).

Modelling choices: one synthetic group, active, with an owner, in the plan's audience, enrolled before the calendar's
first step; its quota counts this plan's touches only (in production other group plans' touches count too).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import fate
from chalicelib.domain.group_content import GroupContent
from chalicelib.domain.groups import Group, GroupSetup, GroupState
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.sop import COMPLETED, DROPPED, SKIPPED, Enrollment, Subject, Touch
from chalicelib.domain.timing import calendar_due

TASK = "task"  # the touch goes into the owner's staff task
SIM_CHAT = "sim-group"


@dataclass(frozen=True)
class CampTouch:
    """One step's fate: when the calendar put it, when it goes out (or was closed), and why it moved."""

    step: Step
    planned: datetime
    at: datetime
    outcome: str  # task | dropped | skipped
    reason: str | None = None  # the first rule that moved or closed it
    reasons: tuple[str, ...] = ()


@dataclass
class _Pending:
    step: Step
    rank: int
    planned: datetime
    due: datetime
    reasons: list[str] = field(default_factory=list)
    occurrence: int = 0


def simulate_camp(plan: Plan, rules: TouchRules, zone: ZoneInfo, cohort_start: date) -> list[CampTouch]:
    """Each step's fate for one group whose cohort starts on ``cohort_start`` (day 0), in the order they fire."""
    day0 = date.fromisoformat(plan.day0) if plan.day0 else cohort_start
    plan = replace(plan, status=PlanStatus.PUBLISHED)  # a draft previews as it will run
    dues = [calendar_due(s, day0, rules, zone) for s in plan.steps]
    enrolled = min(d.planned for d in dues).astimezone(UTC) - timedelta(days=1)
    group = _synthetic(plan, day0)
    enrollment = Enrollment(
        Subject.group(group.chat_id), plan.plan_id, plan.version, "sim", iso_of(enrolled, zone), day0=day0.isoformat()
    )
    queue: list[tuple[datetime, int, int, _Pending]] = []
    taken: dict[str, dict[str, int]] = {}
    out: list[CampTouch] = []
    seq = 0

    def push(at: datetime, pending: _Pending) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, pending.rank, seq, pending))

    queued: set[int] = set()

    def queue_next(rank: int, now: datetime) -> None:
        """The step after ``rank``, queued once (the kernel's second queuing of a touch is a no-op)."""
        if rank + 1 < len(plan.steps) and rank + 1 not in queued:
            queued.add(rank + 1)
            due = dues[rank + 1]
            pending = _Pending(plan.steps[rank + 1], rank + 1, due.planned, due.due, list(due.reasons))
            push(fate.fires_at(due.due, now), pending)

    queue_next(-1, enrolled)
    while queue:
        now, _, _, pending = heapq.heappop(queue)
        step = pending.step
        touch = Touch("", enrollment.subject, "sim", step.id, pending.occurrence, iso_of(pending.due, zone))
        decided = fate.decide(
            plan=plan,
            step=step,
            enrollment=enrollment,
            customer=None,
            group=group,
            touch=touch,
            rules=rules,
            zone=zone,
            now=now,
            tenant_id="",  # a holdout holds customers out, never a group: no tenant is needed to judge one
        )
        if decided.outcome == fate.SEND:
            assert decided.quota is not None
            counts = taken.setdefault(decided.quota.month, {})
            refused = decided.quota.refusal(counts)
            if refused is None:
                for key in decided.quota.counters():
                    counts[key] = counts.get(key, 0) + 1
                first = pending.reasons[0] if pending.reasons else None
                out.append(CampTouch(step, pending.planned, now, TASK, first, tuple(pending.reasons)))
                if pending.rank == len(plan.steps) - 1:
                    enrollment = replace(enrollment, status=COMPLETED)
                queue_next(pending.rank, now)
                continue
            decided = fate.on_refused(refused, step, rules, zone, now)
        if decided.outcome in (fate.SKIP, fate.DROP):
            reasons = (*pending.reasons, *(r for r in decided.reasons if r not in pending.reasons))
            closed = SKIPPED if decided.outcome == fate.SKIP else DROPPED
            out.append(CampTouch(step, pending.planned, now, closed, decided.reason, reasons))
            if not decided.halts:
                queue_next(pending.rank, now)
            continue
        assert decided.due is not None
        if not decided.waits(pending.due):
            pending.occurrence += 1
            pending.reasons.extend(r for r in decided.reasons if r not in pending.reasons)
            queue_next(pending.rank, now)
        pending.due = decided.due
        push(fate.fires_at(decided.due, now), pending)
    return out


def _synthetic(plan: Plan, day0: date) -> Group:
    """A group in the plan's audience (its first type, cohort, tag and chat id), active, with an owner."""
    a = plan.groups
    setup = GroupSetup(
        type=a.types[0] if a.types else None,
        cohort=a.cohorts[0] if a.cohorts else None,
        cohort_start=day0.isoformat(),
        tags=a.tags[:1],
    )
    return Group(a.chat_ids[0] if a.chat_ids else SIM_CHAT, GroupState(owner="owner", rev=1), setup)


def camp_to_json(
    plan: Plan,
    touches: list[CampTouch],
    zone: ZoneInfo,
    cohort_start: date,
    contents: Mapping[str, GroupContent | None] | None = None,
) -> dict[str, Any]:
    """The calendar as the API shows it: each touch with its day, phase and times; the phases; the span in days.
    A step that sends group content shows the piece as it is now (``contents``: by id, None once deleted)."""
    contents = contents or {}
    days = [s.day for s in plan.steps if s.day is not None]
    phases: list[dict[str, Any]] = []
    for step in plan.steps:
        name = step.phase or ""
        if not phases or phases[-1]["name"] != name:
            phases.append({"name": name, "from_day": step.day, "to_day": step.day, "steps": 0})
        phases[-1]["to_day"] = step.day
        phases[-1]["steps"] += 1
    items = [
        {
            "step_id": t.step.id,
            "day": t.step.day,
            "date": t.planned.astimezone(zone).date().isoformat(),
            "phase": t.step.phase or None,
            "title": _title(t.step, contents),
            "content_type": t.step.content_type,
            **({"content": _content(t.step.content_id, contents)} if t.step.content_id else {}),
            "planned_at": iso_of(t.planned, zone),
            "at": iso_of(t.at, zone),
            "outcome": t.outcome,
            "reason": t.reason,
            "reasons": list(t.reasons),
        }
        for t in touches
    ]
    return {
        "plan_id": plan.plan_id,
        "kind": plan.kind,
        "cohort_start": (date.fromisoformat(plan.day0) if plan.day0 else cohort_start).isoformat(),
        "days": (max(days) - min(days) + 1) if days else 0,
        "first_day": min(days) if days else None,
        "last_day": max(days) if days else None,
        "phases": phases,
        "items": items,
        "summary": {outcome: sum(1 for t in touches if t.outcome == outcome) for outcome in (TASK, DROPPED, SKIPPED)},
        "deferred": sum(1 for t in touches if t.reasons),
    }


def _title(step: Step, contents: Mapping[str, GroupContent | None]) -> str:
    """The step's title, or the title of the content it sends when it has none (as its staff task will show)."""
    content = contents.get(step.content_id) if step.content_id else None
    return step.title or (content.title if content else "")


def _content(content_id: str, contents: Mapping[str, GroupContent | None]) -> dict[str, Any]:
    """The piece a step sends, or that it was deleted (its touches will fail with ``content_deleted``)."""
    content = contents.get(content_id)
    return {**content.preview(), "deleted": False} if content else {"content_id": content_id, "deleted": True}
