"""The plan simulator ("preview paths"): run one plan over a virtual clock against a synthetic cohort.

Pure and deterministic: no clock, no WeCom, no writes. It decides with the same functions the engine uses
(``timing.due_at`` when a customer enrolls, ``timing.on_fire`` when a touch fires, ``timing.cap_decision`` and
``timing.next_day_start`` for caps, ``replies.classify_reply`` for replies), so the preview is what production does.

Scope and modelling choices (the engine has more state than a synthetic customer):
- One plan. The per-customer daily cap counts this plan's touches only; in production other plans' touches count
  too, so a real customer can meet the cap sooner than the preview shows.
- Each step is one occurrence, first fired at its due time, or at the join when that is already past (a day-0 step
  after its time), which is where the lateness policy applies.
- Customer events at the same instant as a fire are seen by it (an order at 20:00 stops a 20:00 touch).
- Exits: an order matching an exit rule (a ``trial`` rule is met by a trial or a full order, ``None`` by any), a tag
  matching a tag exit rule, or any negative reply (the customer asked to stop, whatever the plan says; the exit
  also covers the marketing suppression a negative reply brings). Later steps come out "skipped" with reason
  "exit". Stage exits and stage/channel audience criteria need state a synthetic customer does not have and are
  not simulated; the audience's tag criteria are.
- Silence: inbound activity is a reply or an order. ``silence.days`` after the last one (or the join) with none, the
  customer leaves: a "handoff" record names ``then_plan_id``, and later steps come out "skipped" with reason
  "silence". Finishing the steps does not stop the timer: a customer silent through the whole plan is handed off.
- A positive reply makes the customer hot: a "followup" record (outcome "task", reason "positive_reply") at the reply.
- Only records whose due time is within ``days`` of the join (inclusive) are returned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.instants import iso_of, parse_bounded_instant
from chalicelib.domain.plans import Audience, Plan, Step, TouchRules
from chalicelib.domain.replies import DEFAULT_NEGATIVE, DEFAULT_POSITIVE, NEGATIVE, POSITIVE, classify_reply
from chalicelib.domain.sop import order_meets_exit
from chalicelib.domain.timing import CAP, LATENESS, cap_decision, cap_key, due_at, next_day_start, on_fire

TASK = "task"
DROPPED = "dropped"
SKIPPED = "skipped"

EXIT = "exit"
SILENCE = "silence"
AUDIENCE = "audience"
POSITIVE_REPLY = "positive_reply"

FOLLOWUP_STEP = "followup"
HANDOFF_STEP = "handoff"

EVENT_TYPES = ("order", "reply", "tag")


@dataclass(frozen=True)
class SimEvent:
    """Something a synthetic customer does: an order (``kind`` trial/full), a reply (``text``), a tag (``tag_id``)."""

    at: datetime
    type: str
    kind: str | None = None
    text: str | None = None
    tag_id: str | None = None


@dataclass(frozen=True)
class SimCustomer:
    """A synthetic customer: joins (enrolls) at ``joined_at``, then does ``events``. ``tags`` are held at the join."""

    id: str
    joined_at: datetime
    events: Sequence[SimEvent] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimTouch:
    """One line of the preview: what happened to one step (or follow-up, or hand-off) of one customer, and why.

    ``reason`` is the rule that dropped or skipped it, or the first rule that moved a task (None if untouched);
    ``reasons`` is the whole path in order; ``handoff`` names the plan a silent customer moves to.
    """

    customer: str
    step_id: str
    planned_at: datetime
    due_at: datetime
    outcome: str
    reason: str | None = None
    reasons: tuple[str, ...] = ()
    handoff: str | None = None


@dataclass
class _Pending:
    """A step occurrence on its way: the due time the lateness policy measures from, and how it got there."""

    step: Step
    rank: int
    planned: datetime
    due: datetime
    reasons: list[str] = field(default_factory=list)


@dataclass
class _Customer:
    """A customer's state as the virtual clock runs."""

    spec: SimCustomer
    tags: set[str]
    matched_at_join: bool
    last_activity: datetime
    left: str | None = None  # exit | silence
    handoff: str | None = None
    sent: dict[str, int] = field(default_factory=dict)


def simulate(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    cohort: Iterable[SimCustomer],
    days: int,
    *,
    positive: Iterable[str] = DEFAULT_POSITIVE,
    negative: Iterable[str] = DEFAULT_NEGATIVE,
) -> list[SimTouch]:
    """The preview timeline of ``plan`` for ``cohort`` over ``days`` days from each join, sorted by
    (due_at, customer, step order). Customers are independent, so each runs on its own virtual clock."""
    if days < 0:
        raise ValueError("days must be ≥ 0")
    positive, negative = tuple(positive), tuple(negative)
    ranks = {step.id: i for i, step in enumerate(plan.steps)}
    touches: list[SimTouch] = []
    for customer in cohort:
        touches.extend(_run(plan, rules, zone, customer, days, positive, negative))
    return sorted(touches, key=lambda t: (t.due_at, t.customer, ranks.get(t.step_id, len(ranks)), t.step_id))


def _run(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    spec: SimCustomer,
    days: int,
    positive: tuple[str, ...],
    negative: tuple[str, ...],
) -> list[SimTouch]:
    if spec.joined_at.tzinfo is None or spec.joined_at.utcoffset() is None:
        raise ValueError(f"customer {spec.id}: joined_at must carry an offset")
    joined = spec.joined_at.astimezone(UTC)  # UTC throughout: same-zone datetimes compare by wall clock
    horizon = joined + timedelta(days=days)
    state = _Customer(
        spec=spec,
        tags=set(spec.tags),
        matched_at_join=_tags_match(plan.audience, set(spec.tags)),
        last_activity=joined,
    )
    out: list[SimTouch] = []

    # The virtual clock: (instant, 0 = customer event / 1 = step fire, tie-breaker, payload).
    queue: list[tuple[datetime, int, int, SimEvent | _Pending]] = []
    for i, event in enumerate(spec.events):  # same-instant events keep their given order
        if event.at.tzinfo is None or event.at.utcoffset() is None:
            raise ValueError(f"customer {spec.id}: event times must carry an offset")
        if event.type not in EVENT_TYPES:
            raise ValueError(f"customer {spec.id}: unknown event type {event.type!r}")
        at = event.at.astimezone(UTC)
        if at >= joined:  # before the join the customer is not ours yet
            queue.append((at, 0, i, replace(event, at=at)))
    for rank, step in enumerate(plan.steps):
        due = due_at(step, joined, rules, zone)
        pending = _Pending(step, rank, due.planned, due.due, list(due.reasons))
        queue.append((max(due.due, joined), 1, rank, pending))
    heapq.heapify(queue)

    while queue:
        now, _, order, item = heapq.heappop(queue)
        if now > horizon:
            break
        _check_silence(plan, state, now, out)
        if isinstance(item, SimEvent):
            _on_event(plan, state, item, positive, negative, out)
            continue
        moved = _on_step(plan, rules, zone, state, item, now, out)
        if moved is not None:
            heapq.heappush(queue, (moved, 1, order, item))
    _check_silence(plan, state, horizon, out)
    return [t for t in out if t.due_at <= horizon]


def _check_silence(plan: Plan, state: _Customer, now: datetime, out: list[SimTouch]) -> None:
    """Leave for the silent-customer plan once ``silence.days`` passed with no inbound activity."""
    if plan.silence is None or state.left is not None:
        return
    deadline = state.last_activity + timedelta(days=plan.silence.days)
    if deadline > now:
        return
    state.left, state.handoff = SILENCE, plan.silence.then_plan_id
    out.append(SimTouch(state.spec.id, HANDOFF_STEP, deadline, deadline, SKIPPED, SILENCE, (SILENCE,), state.handoff))


def _on_event(
    plan: Plan,
    state: _Customer,
    event: SimEvent,
    positive: tuple[str, ...],
    negative: tuple[str, ...],
    out: list[SimTouch],
) -> None:
    if event.type == "order":
        state.last_activity = event.at
        if any(order_meets_exit(rule.kind, event.kind) for rule in plan.exits if rule.type == "order"):
            _leave(state)
    elif event.type == "reply":
        state.last_activity = event.at
        verdict = classify_reply(event.text or "", positive, negative)
        if verdict == POSITIVE:
            out.append(
                SimTouch(state.spec.id, FOLLOWUP_STEP, event.at, event.at, TASK, POSITIVE_REPLY, (POSITIVE_REPLY,))
            )
        elif verdict == NEGATIVE:
            _leave(state)
    elif event.type == "tag" and event.tag_id:
        state.tags.add(event.tag_id)
        if any(rule.type == "tag" and rule.tag_id == event.tag_id for rule in plan.exits):
            _leave(state)


def _leave(state: _Customer) -> None:
    if state.left is None:
        state.left = EXIT


def _tags_match(audience: Audience, tags: set[str]) -> bool:
    if audience.tags_all and not set(audience.tags_all) <= tags:
        return False
    if audience.tags_any and not set(audience.tags_any) & tags:
        return False
    return not set(audience.tags_none) & tags


def _on_step(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    state: _Customer,
    pending: _Pending,
    now: datetime,
    out: list[SimTouch],
) -> datetime | None:
    """Fire one step occurrence at ``now`` as the fire handler would; return where it moved, if it did."""
    step = pending.step

    def record(outcome: str, reason: str | None) -> None:
        reasons = [*pending.reasons, reason] if reason and reason not in pending.reasons else pending.reasons
        first = reason if outcome != TASK else (pending.reasons[0] if pending.reasons else None)
        handoff = state.handoff if reason == SILENCE else None
        out.append(SimTouch(state.spec.id, step.id, pending.planned, now, outcome, first, tuple(reasons), handoff))

    if state.left is not None:
        record(SKIPPED, state.left)
        return None
    matched = _tags_match(plan.audience, state.tags) if plan.audience.recheck_at_fire else state.matched_at_join
    if not matched:
        record(SKIPPED, AUDIENCE)
        return None
    decision = on_fire(pending.due, now, step, rules, zone)
    if decision.action == "skip":
        record(SKIPPED, LATENESS)
        return None
    if decision.action == "move":
        assert decision.due is not None
        pending.due = decision.due
        pending.reasons.extend(r for r in decision.reasons if r not in pending.reasons)
        return decision.due
    key = cap_key(state.spec.id, step.content_type, now, zone)
    verdict = cap_decision(state.sent.get(key, 0), step.content_type, rules, step.on_cap)
    if verdict == "ok":
        state.sent[key] = state.sent.get(key, 0) + 1
        record(TASK, None)
        return None
    if verdict == "drop":
        record(DROPPED, CAP)
        return None
    pending.due = next_day_start(now, zone, step.content_type, rules)
    if CAP not in pending.reasons:
        pending.reasons.append(CAP)
    return pending.due


# --- JSON ----------------------------------------------------------------------------------------------------------


def to_json(touches: Iterable[SimTouch], zone: ZoneInfo) -> dict[str, Any]:
    """The simulate endpoint's response: ISO-8601 times with the tenant's offset. ``reasons`` and ``handoff`` extend
    the issue's shape (the full path of rules, the silent-customer plan)."""
    return {
        "touches": [
            {
                "customer": t.customer,
                "step_id": t.step_id,
                "planned_at": iso_of(t.planned_at, zone),
                "due_at": iso_of(t.due_at, zone),
                "outcome": t.outcome,
                "reason": t.reason,
                "reasons": list(t.reasons),
                "handoff": t.handoff,
            }
            for t in touches
        ]
    }


def cohort_from_json(items: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> list[SimCustomer]:
    """The request's cohort as SimCustomers; a time without an offset is read in the tenant's zone.

    Shape checks belong to the endpoint's JSON Schema; this only converts.
    """
    cohort = []
    for n, item in enumerate(items):
        events = tuple(
            SimEvent(
                at=_instant(e["at"], zone, f"cohort/{n}/events/{m}/at"),
                type=str(e["type"]),
                kind=e.get("kind"),
                text=e.get("text"),
                tag_id=e.get("tag_id"),
            )
            for m, e in enumerate(item.get("events", ()))
        )
        cohort.append(
            SimCustomer(
                id=str(item["id"]),
                joined_at=_instant(item["joined_at"], zone, f"cohort/{n}/joined_at"),
                events=events,
                tags=tuple(item.get("tags", ())),
            )
        )
    return cohort


def _instant(value: Any, zone: ZoneInfo, path: str) -> datetime:
    """A cohort time, in datetime's safe range (a run adds up to a year of plan offsets to it); ValueError names it."""
    try:
        return parse_bounded_instant(str(value), zone)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
