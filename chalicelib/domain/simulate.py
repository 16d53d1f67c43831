"""The plan simulator ("preview paths"): run one plan over a virtual clock against a synthetic cohort.

Pure and deterministic: no clock, no WeCom, no writes. Every touch is judged by ``fate.decide`` and a refused quota
by ``fate.on_refused`` — the functions the fire handler uses — on a synthetic customer changed by the functions
business events use (``apply_order``, ``apply_reply``), so the preview is what production does. The virtual clock
queues touches as the engine does: a step's next step is queued when the step is sent, dropped, skipped for
lateness or moved, and fires when its bucket would (``fate.fires_at``). ``trace`` gives each touch occurrence in the
engine's own words; tests/unit/test_fate_differential.py holds the two to the same answers.

Scope and modelling choices (the engine has more state than a synthetic customer):
- One plan, previewed as published. The per-customer daily cap and monthly receive limit count this plan's touches
  only, and no other plan outranks it; in production other plans' touches count too.
- A customer starts at stage ``new`` (enrolling makes them ``nurturing``), with the given tags, no marketing
  suppression and an active relation. One who is not in the audience or already meets an exit rule at the join would
  be refused: all steps come out "skipped" with reason "audience" or "exit".
- Customer events at the same instant as a fire are seen by it (an order at 20:00 stops a 20:00 touch). An order
  moves the stage (trial, converted) and ends the enrollment when it meets an order exit rule (a ``trial`` rule is
  met by a trial or a full order, ``None`` by any); a reply resets the silence timer, a positive one makes the
  customer hot, a negative one suppresses marketing and ends the enrollment when the plan exits on negative replies;
  a tag is added. Stage and tag exit rules and the audience (tags and stages) are checked when a touch fires.
- Once a touch is skipped by such a check (the engine then queues nothing further), later steps come out "skipped"
  with the same reason: "exit" for an exit rule, an ended enrollment or marketing suppression, "audience" for the
  audience. Channel audience criteria are not simulated (a synthetic customer has no channel).
- Silence: inbound activity is a reply or an order. ``silence.days`` after the last one (or the join) with none, the
  customer leaves: a "handoff" record names ``then_plan_id``, and later steps come out "skipped" with reason
  "silence". Finishing the steps does not stop the timer: a customer silent through the whole plan is handed off.
- A positive reply makes the customer hot: a "followup" record (outcome "task", reason "positive_reply") at the reply.
- A plan with a holdout (``holdout_percent``) holds out the cohort's customers the engine would (by ``tenant_id``,
  the plan and the customer's id): each of their steps comes out "skipped" with reason "holdout", and their orders
  and replies still meet the exit rules.
- Only records whose due time is within ``days`` of the join (inclusive) are returned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain import fate
from chalicelib.domain.business_events import apply_order, apply_reply
from chalicelib.domain.customers import Customer, Relation, Stage
from chalicelib.domain.enrollments import NURTURING_FROM, excluding_rule
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.preview import SimCustomer, SimEvent, SimOccurrence, SimTouch, cohort_from_json, to_json
from chalicelib.domain.replies import DEFAULT_NEGATIVE, DEFAULT_POSITIVE, POSITIVE, classify_reply
from chalicelib.domain.sop import ACTIVE, EXITED, SENT, Enrollment, Subject, Touch, audience_matches
from chalicelib.domain.sop import COMPLETED as COMPLETED_STATE
from chalicelib.domain.sop import DROPPED as DROPPED_STATE
from chalicelib.domain.sop import SKIPPED as SKIPPED_STATE
from chalicelib.domain.timing import due_at

TASK = "task"
DROPPED = "dropped"
SKIPPED = "skipped"

EXIT = "exit"
COMPLETED = "completed"
SILENCE = "silence"
AUDIENCE = "audience"
POSITIVE_REPLY = "positive_reply"

FOLLOWUP_STEP = "followup"
HANDOFF_STEP = "handoff"

EVENT_TYPES = ("order", "reply", "tag")

__all__ = ["SimCustomer", "SimEvent", "SimOccurrence", "SimTouch", "cohort_from_json", "simulate", "to_json", "trace"]

# Why a touch the engine skipped by revalidation shows as it does in the preview ("enrollment_ended" shows why the
# enrollment ended). Marketing suppression comes from a negative reply, which the preview calls an exit.
_SHOWN = {"audience": AUDIENCE, "suppressed": EXIT}


@dataclass
class _Pending:
    """A step occurrence on its way: the due time the lateness policy measures from, and how it got there."""

    step: Step
    rank: int
    planned: datetime
    due: datetime
    reasons: list[str] = field(default_factory=list)
    occurrence: int = 0
    shown_only: bool = False  # queued after the engine stopped queuing: in the preview, never in the engine


@dataclass
class _Subject:
    """A customer's state as the virtual clock runs: the synthetic customer and enrollment the fate is asked about."""

    spec: SimCustomer
    customer: Customer
    enrollment: Enrollment
    last_activity: datetime
    ended: str | None = None  # why the enrollment ended: exit | silence
    halted: str | None = None  # why the engine queues nothing further (shown on every later step)
    handoff: str | None = None
    tenant_id: str = ""  # whose holdout assignment the preview shows
    queued: set[int] = field(default_factory=set)
    taken: dict[str, dict[str, int]] = field(default_factory=dict)  # the quota: month → counter → count
    out: list[SimTouch] = field(default_factory=list)
    trace: list[SimOccurrence] = field(default_factory=list)


def simulate(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    cohort: Iterable[SimCustomer],
    days: int,
    *,
    positive: Iterable[str] = DEFAULT_POSITIVE,
    negative: Iterable[str] = DEFAULT_NEGATIVE,
    tenant_id: str = "",
) -> list[SimTouch]:
    """The preview timeline of ``plan`` for ``cohort`` over ``days`` days from each join, sorted by
    (due_at, customer, step order). Customers are independent, so each runs on its own virtual clock. ``tenant_id``:
    the tenant whose holdout assignment the preview shows (customers are held out as the engine would hold them)."""
    ranks = {step.id: i for i, step in enumerate(plan.steps)}
    touches: list[SimTouch] = []
    for state in _runs(plan, rules, zone, cohort, days, positive, negative, tenant_id):
        touches.extend(state.out)
    return sorted(touches, key=lambda t: (t.due_at, t.customer, ranks.get(t.step_id, len(ranks)), t.step_id))


def trace(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    cohort: Iterable[SimCustomer],
    days: int,
    *,
    positive: Iterable[str] = DEFAULT_POSITIVE,
    negative: Iterable[str] = DEFAULT_NEGATIVE,
    tenant_id: str = "",
) -> list[SimOccurrence]:
    """The touch occurrences the engine would record for ``cohort`` (those fired within ``days`` of the join), by
    customer, then in the order they were decided."""
    runs = _runs(plan, rules, zone, cohort, days, positive, negative, tenant_id)
    return [o for state in runs for o in state.trace]


def _runs(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    cohort: Iterable[SimCustomer],
    days: int,
    positive: Iterable[str],
    negative: Iterable[str],
    tenant_id: str,
) -> list[_Subject]:
    if days < 0:
        raise ValueError("days must be ≥ 0")
    words = (tuple(positive), tuple(negative))
    preview = replace(plan, status=PlanStatus.PUBLISHED)  # a draft previews as it will run
    return [_run(preview, rules, zone, customer, days, words, tenant_id) for customer in cohort]


def _run(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    spec: SimCustomer,
    days: int,
    words: tuple[tuple[str, ...], ...],
    tenant_id: str,
) -> _Subject:
    if spec.joined_at.tzinfo is None or spec.joined_at.utcoffset() is None:
        raise ValueError(f"customer {spec.id}: joined_at must carry an offset")
    joined = spec.joined_at.astimezone(UTC)  # UTC throughout: same-zone datetimes compare by wall clock
    horizon = joined + timedelta(days=days)
    state = _join(plan, spec, joined, zone)
    state.tenant_id = tenant_id

    # The virtual clock: (instant, 0 = customer event / 1 = touch fire, step rank or event index, sequence, payload).
    queue: list[tuple[datetime, int, int, int, SimEvent | _Pending]] = []
    for i, event in enumerate(spec.events):  # same-instant events keep their given order
        if event.at.tzinfo is None or event.at.utcoffset() is None:
            raise ValueError(f"customer {spec.id}: event times must carry an offset")
        if event.type not in EVENT_TYPES:
            raise ValueError(f"customer {spec.id}: unknown event type {event.type!r}")
        at = event.at.astimezone(UTC)
        if at >= joined:  # before the join the customer is not ours yet
            queue.append((at, 0, i, i, replace(event, at=at)))
    heapq.heapify(queue)
    seq = len(queue)

    def push(at: datetime, pending: _Pending) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, 1, pending.rank, seq, pending))

    for at, pending in _queue_next(plan, rules, zone, state, -1, joined, shown_only=state.halted is not None):
        push(at, pending)
    while queue:
        now, _, _, _, item = heapq.heappop(queue)
        if now > horizon:
            break
        _check_silence(plan, state, now, zone)
        if isinstance(item, SimEvent):
            _on_event(plan, state, item, words, zone)
            continue
        for at, pending in _on_step(plan, rules, zone, state, item, now):
            push(at, pending)
    _check_silence(plan, state, horizon, zone)
    state.out = [t for t in state.out if t.due_at <= horizon]
    return state


def _join(plan: Plan, spec: SimCustomer, joined: datetime, zone: ZoneInfo) -> _Subject:
    """The customer enrolled at the join (a ``new`` customer becomes ``nurturing``), or marked refused."""
    at = iso_of(joined, zone)
    customer = Customer(
        customer_id=spec.id,
        external_userid=spec.id,
        owner_userid="owner",
        source_channel_id="",
        stage=Stage.NEW,
        added_at=at,
        created_at=at,
        updated_at=at,
        tags=frozenset(spec.tags),
        relations=(Relation("owner", spec.id, "active", at),),
    )
    enrollment = Enrollment(Subject.customer(spec.id), plan.plan_id, plan.version, f"sim-{spec.id}", at)
    state = _Subject(spec, customer, enrollment, last_activity=joined)
    if excluding_rule(plan, customer):
        state.halted = EXIT
    elif not audience_matches(plan.audience, customer):
        state.halted = AUDIENCE
    elif customer.stage in NURTURING_FROM:
        state.customer = replace(customer, stage=Stage.NURTURING)
    return state


def _check_silence(plan: Plan, state: _Subject, now: datetime, zone: ZoneInfo) -> None:
    """Leave for the silent-customer plan once ``silence.days`` passed with no inbound activity."""
    if plan.silence is None or state.ended is not None:
        return
    deadline = state.last_activity + timedelta(days=plan.silence.days)
    if deadline > now:
        return
    state.handoff = plan.silence.then_plan_id
    _end(state, SILENCE, SILENCE, deadline, zone)
    state.out.append(
        SimTouch(state.spec.id, HANDOFF_STEP, deadline, deadline, SKIPPED, SILENCE, (SILENCE,), state.handoff)
    )


def _end(state: _Subject, why: str, reason: str, at: datetime, zone: ZoneInfo) -> None:
    """The enrollment ends (exit or silence); one that completed already stays completed, its customer still left."""
    state.ended = state.ended or why
    if state.enrollment.status == ACTIVE:
        state.enrollment = replace(state.enrollment, status=EXITED, exit_reason=reason, ended_at=iso_of(at, zone))


def _on_event(plan: Plan, state: _Subject, event: SimEvent, words: tuple[tuple[str, ...], ...], zone: ZoneInfo) -> None:
    at = iso_of(event.at, zone)
    signal: tuple[str, str | None] | None = None
    if event.type == "order":
        state.last_activity = event.at
        state.customer = apply_order(state.customer, kind=event.kind or "", now=at)
        signal = ("order", event.kind)
    elif event.type == "reply":
        state.last_activity = event.at
        verdict = classify_reply(event.text or "", *words)
        state.customer = apply_reply(state.customer, reply=verdict, at=at, at_time=event.at, now=at)
        if verdict == POSITIVE:
            state.out.append(
                SimTouch(state.spec.id, FOLLOWUP_STEP, event.at, event.at, TASK, POSITIVE_REPLY, (POSITIVE_REPLY,))
            )
        signal = ("reply", verdict)
    elif event.type == "tag" and event.tag_id:
        state.customer = replace(state.customer, tags=state.customer.tags | {event.tag_id})
    if signal is not None and state.ended is None:
        reason = fate.signal_exit(plan, *signal)
        if reason is not None:
            _end(state, EXIT, reason, event.at, zone)


def _queue_next(
    plan: Plan,
    rules: TouchRules,
    zone: ZoneInfo,
    state: _Subject,
    rank: int,
    now: datetime,
    *,
    shown_only: bool = False,
) -> list[tuple[datetime, _Pending]]:
    """The step after ``rank``, queued at ``now`` (once: the engine's second queuing of a touch is a no-op);
    ``shown_only`` after a touch the engine queues nothing after."""
    following = rank + 1
    if following >= len(plan.steps) or following in state.queued:
        return []
    state.queued.add(following)
    step = plan.steps[following]
    due = due_at(step, datetime.fromisoformat(state.enrollment.enrolled_at), rules, zone)
    pending = _Pending(step, following, due.planned, due.due, list(due.reasons), shown_only=shown_only)
    return [(fate.fires_at(due.due, now), pending)]


def _go_on(
    plan: Plan, rules: TouchRules, zone: ZoneInfo, state: _Subject, rank: int, now: datetime
) -> list[tuple[datetime, _Pending]]:
    """After a step is sent, dropped or skipped for lateness: queue the next step, or after the last one complete the
    enrollment (a moved occurrence of an earlier step still on its way then finds it ended, as in the engine)."""
    if rank == len(plan.steps) - 1 and state.enrollment.status == ACTIVE:
        state.enrollment = replace(state.enrollment, status=COMPLETED_STATE, exit_reason="completed")
    return _queue_next(plan, rules, zone, state, rank, now)


def _on_step(
    plan: Plan, rules: TouchRules, zone: ZoneInfo, state: _Subject, pending: _Pending, now: datetime
) -> list[tuple[datetime, _Pending]]:
    """Fire one step occurrence at ``now`` as the fire handler would; return what it queues."""
    step = pending.step

    def record(outcome: str, reason: str | None) -> None:
        reasons = [*pending.reasons, reason] if reason and reason not in pending.reasons else pending.reasons
        first = reason if outcome != TASK else (pending.reasons[0] if pending.reasons else None)
        handoff = state.handoff if reason == SILENCE else None
        state.out.append(
            SimTouch(state.spec.id, step.id, pending.planned, now, outcome, first, tuple(reasons), handoff)
        )

    def close(touch_state: str, reason: str | None) -> None:
        occurrence = SimOccurrence(state.spec.id, step.id, pending.occurrence, pending.due, touch_state, reason, now)
        state.trace.append(occurrence)

    if pending.shown_only:  # the engine queued nothing further: the step shows why
        record(SKIPPED, state.halted)
        return _queue_next(plan, rules, zone, state, pending.rank, now, shown_only=True)
    touch = Touch(
        "",
        Subject.customer(state.spec.id),
        state.enrollment.enrollment_id,
        step.id,
        pending.occurrence,
        iso_of(pending.due, zone),
    )
    verdict = fate.decide(
        plan=plan,
        step=step,
        enrollment=state.enrollment,
        customer=state.customer,
        touch=touch,
        rules=rules,
        zone=zone,
        now=now,
        tenant_id=state.tenant_id,
    )
    if verdict.outcome == fate.SEND:
        assert verdict.quota is not None
        taken = state.taken.setdefault(verdict.quota.month, {})
        refused = verdict.quota.refusal(taken)
        if refused is None:
            for key in verdict.quota.counters():
                taken[key] = taken.get(key, 0) + 1
            close(SENT, None)
            record(TASK, None)
            return _go_on(plan, rules, zone, state, pending.rank, now)
        verdict = fate.on_refused(refused, step, rules, zone, now)
    if verdict.halts:
        close(SKIPPED_STATE, verdict.reason)
        if verdict.exits:
            _end(state, EXIT, verdict.reason or EXIT, now, zone)
        if verdict.reason == "enrollment_ended":
            state.halted = state.ended or COMPLETED
        else:
            state.halted = _SHOWN.get(verdict.reason or "", EXIT)
        record(SKIPPED, state.halted)
        return _queue_next(plan, rules, zone, state, pending.rank, now, shown_only=True)
    if verdict.outcome in (fate.SKIP, fate.DROP):
        close(SKIPPED_STATE if verdict.outcome == fate.SKIP else DROPPED_STATE, verdict.reason)
        record(SKIPPED if verdict.outcome == fate.SKIP else DROPPED, verdict.reason)
        return _go_on(plan, rules, zone, state, pending.rank, now)
    assert verdict.due is not None
    if verdict.waits(pending.due):  # fired early: the touch stays in its bucket until it is due
        return [(verdict.due, pending)]
    close(SKIPPED_STATE, verdict.touch_reason)
    pending.due, pending.occurrence = verdict.due, pending.occurrence + 1
    pending.reasons.extend(r for r in verdict.reasons if r not in pending.reasons)
    return [(fate.fires_at(verdict.due, now), pending), *_queue_next(plan, rules, zone, state, pending.rank, now)]
