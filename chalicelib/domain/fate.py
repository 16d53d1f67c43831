"""A touch's fate: the one decision the fire handler and the plan simulator share (issue 8 §2).

``decide`` judges a due touch from the plan version (with its holdout), the subject's state as it is now (stage,
tags, marketing suppression, relations, the enrollment a signal may have ended), the other plans the subject is in,
the tenant's touch rules and the time. What only storage can confirm — the daily cap and WeCom's monthly receive
limit, taken by one conditional write (``take_quota``) — comes back as a ``send`` carrying its ``Quota``;
``on_refused`` turns the write's refusal into the fate. The engine applies the fate to its store, the simulator to
its virtual clock, so neither writes a rule of its own. Pure: no clock, no storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from chalicelib.domain import group_plans, timing
from chalicelib.domain.customers import Customer
from chalicelib.domain.groups import Group
from chalicelib.domain.metrics.holdout import in_holdout
from chalicelib.domain.plans import ExitRule, Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.sop import ACTIVE, GROUP, Enrollment, Subject, Touch, order_meets_exit, revalidate

SEND = "send"
SKIP = "skip"
DROP = "drop"
MOVE = "move"

CAP = timing.CAP
MONTHLY = "monthly_limit"  # take_quota's refusal when WeCom's monthly receive limit is reached
REFUSALS = (CAP, MONTHLY)
MOMENT_CAP = "moment_cap"  # a Moments touch deferred or dropped by the month's Moments cap (``cap`` refused it)
MOMENT_KEY = "moment"  # the month's Moments counter (beside the day caps' "<day>#<content type>" counters)
HOLDOUT = "holdout"  # the customer is in the plan's holdout (对照组): every touch skipped, the enrollment goes on

INLINE_FIRE = timedelta(seconds=60)  # due sooner than this after it is queued: the queuing operation fires it

# The subject's other enrollments with their plan versions, or a function that reads them (called only when needed).
Rivals: TypeAlias = Sequence[tuple[Enrollment, Plan | None]] | Callable[[], Sequence[tuple[Enrollment, Plan | None]]]


@dataclass(frozen=True)
class Quota:
    """What the conditional write must take for a touch to go out: one of the month's receive limit and, for a
    capped content type, one of the local day's cap. ``refusal`` is what that write enforces."""

    month: str  # the tenant-local month, "YYYY-MM"
    day_key: str | None  # "<local day>#<content type>" when the content type is capped
    day_cap: int | None
    month_cap: int
    counts_month: bool = True  # False for a Moments post: it is no mass message, WeCom's receive limit is not its

    def refusal(self, taken: Mapping[str, int]) -> str | None:
        """Why the write is refused given what the subject already took this month (``"m"`` for the month's
        count, ``day_key`` for the day's): the month's limit first, then the day's cap; None: it goes out."""
        if self.counts_month and taken.get("m", 0) >= self.month_cap:
            return MONTHLY
        if self.day_key is not None and self.day_cap is not None and taken.get(self.day_key, 0) >= self.day_cap:
            return CAP
        return None

    def counters(self) -> tuple[str, ...]:
        """The counters one sent touch adds one to."""
        month = ("m",) if self.counts_month else ()
        return month if self.day_key is None or self.day_cap is None else (*month, self.day_key)


@dataclass(frozen=True)
class Fate:
    """What happens to a due touch now.

    - ``send``: it goes out if the conditional write takes ``quota`` (else ``on_refused``);
    - ``skip``: closed, with ``reason``; a skip by revalidation ``halts`` the enrollment (nothing further is
      queued), one for lateness or the holdout lets it go on;
    - ``drop``: closed by the cap policy; the enrollment goes on;
    - ``move``: re-queued at ``due`` (a new occurrence, unless ``due`` falls in the same minute as the touch's own
      due, when the touch simply waits); ``reasons`` lists every rule that moved it.
    """

    outcome: str
    reason: str | None = None
    due: datetime | None = None
    reasons: tuple[str, ...] = ()
    quota: Quota | None = None

    @property
    def halts(self) -> bool:
        """A skip decided by revalidation: the touch is closed and the enrollment's next step is not queued."""
        return self.outcome == SKIP and self.reason not in (timing.LATENESS, HOLDOUT)

    @property
    def exits(self) -> bool:
        """The skip met an exit rule: the enrollment ends with this reason."""
        return self.outcome == SKIP and (self.reason or "").startswith("exit:")

    @property
    def touch_reason(self) -> str | None:
        """The reason the closed touch records (a move's closed occurrence says ``moved:<rule>``)."""
        return f"moved:{self.reason}" if self.outcome == MOVE else self.reason

    def waits(self, touch_due: datetime) -> bool:
        """A move back into the touch's own minute (fired early): the touch stays where it is, due as it was."""
        return (
            self.outcome == MOVE
            and self.due is not None
            and timing.minute_bucket(self.due) == timing.minute_bucket(touch_due)
        )


def decide(
    *,
    plan: Plan | None,
    step: Step | None,
    enrollment: Enrollment | None,
    customer: Customer | None,
    touch: Touch,
    rules: TouchRules,
    zone: ZoneInfo,
    now: datetime,
    tenant_id: str,
    rivals: Rivals = (),
    group: Group | None = None,
) -> Fate:
    """A due touch's fate at ``now``, in the fire handler's order: revalidation (erasure, the enrollment, the plan's
    status, a lost customer, exit rules, marketing suppression, the audience), then the plan's holdout (``held_out``
    by ``tenant_id``: skipped ``holdout`` before any timing, cap or quota, so it takes none of the customer's quota,
    while exit rules still end the run), then the lateness policy, an early fire and the rules' quiet hours and
    content windows (``timing.on_fire``), then a higher-priority plan's claim on the daily cap (``rivals``: the
    subject's other enrollments with their plan versions, or a function that reads them, called only for a capped
    content type), and last the quota. A group's touch (``touch.subject.kind`` is GROUP) is revalidated with
    ``group`` instead of ``customer``, is never held out, and is judged by everything else alike."""
    if touch.subject.kind == GROUP:  # a group's own revalidation (domain/group_plans.py); the rest is shared
        reason = group_plans.revalidate(plan=plan, enrollment=enrollment, group=group, touch=touch, step=step)
    else:
        reason = revalidate(plan=plan, enrollment=enrollment, customer=customer, touch=touch, step=step)
    if reason is not None:
        return Fate(SKIP, reason, reasons=(reason,))
    assert plan is not None and step is not None
    if held_out(plan, touch.subject, tenant_id):
        return Fate(SKIP, HOLDOUT, reasons=(HOLDOUT,))
    decision = timing.on_fire(datetime.fromisoformat(touch.due_at), now, step, rules, zone)
    if decision.action == "skip":
        return Fate(SKIP, decision.reason, reasons=decision.reasons)
    if decision.action == "move":
        return Fate(MOVE, decision.reason, decision.due, decision.reasons)
    ask = quota(step, rules, zone, now)
    contested = ask.day_cap is not None and not step.is_moment  # a Moments cap is monthly: no rival takes its day
    if contested and outranked(plan, step, rivals() if callable(rivals) else rivals, rules, zone, now):
        return on_refused(CAP, step, rules, zone, now)
    return Fate(SEND, quota=ask)


def held_out(plan: Plan, subject: Subject, tenant_id: str) -> bool:
    """Whether the subject is in the plan version's holdout: a customer the plan sends nothing (a group never is)."""
    return (
        plan.holdout_percent > 0
        and subject.kind != GROUP
        and in_holdout(tenant_id, plan.plan_id, subject.id, plan.holdout_percent)
    )


def on_refused(refused: str, step: Step, rules: TouchRules, zone: ZoneInfo, now: datetime) -> Fate:
    """The fate of a touch whose quota write was refused (``cap`` or ``monthly_limit``): the step's ``on_cap``
    policy drops it, or defers it to the next local day's first allowed instant (cap) or the next local month's
    (monthly limit)."""
    if refused not in REFUSALS:
        raise ValueError(f"refusal must be one of {REFUSALS}, got {refused!r}")
    if refused == CAP and step.is_moment:  # the month's Moments are used up: said apart from a day's cap
        refused = MOMENT_CAP
    if step.on_cap != "defer":
        return Fate(DROP, refused, reasons=(refused,))
    if refused == CAP:
        later = timing.next_day_start(now, zone, step.content_type, rules)
    else:
        later = next_month_start(now, zone, step.content_type, rules)
    return Fate(MOVE, refused, later, (refused,))


def quota(step: Step, rules: TouchRules, zone: ZoneInfo, now: datetime) -> Quota:
    """The quota a touch of ``step`` takes at ``now``: the local month's receive limit, and the local day's cap of
    its content type when there is one. A Moments step's second counter is the month's Moments instead
    (``rules.monthly_moment_cap``, 4 by default: the field's rule of thumb), so its cap defers it to next month."""
    day = timing.local_day(now, zone)
    if step.is_moment:
        return Quota(
            month=day[:7],
            day_key=f"{day[:7]}#{MOMENT_KEY}",
            day_cap=rules.monthly_moment_cap,
            month_cap=timing.monthly_limit(rules, now, zone),
            counts_month=False,
        )
    cap = rules.daily_caps.get(step.content_type)
    return Quota(
        month=day[:7],
        day_key=f"{day}#{step.content_type}" if cap is not None else None,
        day_cap=cap,
        month_cap=timing.monthly_limit(rules, now, zone),
    )


def outranked(
    plan: Plan,
    step: Step,
    rivals: Sequence[tuple[Enrollment, Plan | None]],
    rules: TouchRules,
    zone: ZoneInfo,
    now: datetime,
) -> bool:
    """Whether another active, published plan of higher priority has a touch of the same content type due later
    this local day for the subject: the daily cap is kept for it (higher priority wins; this touch yields)."""
    today = timing.local_day(now, zone)
    for other, rival in rivals:
        if other.status != ACTIVE or other.plan_id == plan.plan_id or rival is None:
            continue
        if rival.priority <= plan.priority or rival.status != PlanStatus.PUBLISHED:
            continue
        enrolled = datetime.fromisoformat(other.enrolled_at)
        for s in rival.steps:
            if s.content_type != step.content_type:
                continue
            due = timing.due_at(s, enrolled, rules, zone).due
            if due > now and timing.local_day(due, zone) == today:
                return True
    return False


def priority_peaks(versions: Iterable[Plan], *, besides: str) -> dict[str, int]:
    """The highest priority per content type among the given versions of plans other than ``besides`` that are
    published: a plan of this priority or more cannot be ``outranked`` for that content type, whatever its subjects'
    other enrollments (a large fire reads the versions once instead of each subject's enrollments)."""
    peaks: dict[str, int] = {}
    for rival in versions:
        if rival.plan_id == besides or rival.status != PlanStatus.PUBLISHED:
            continue
        for s in rival.steps:
            peaks[s.content_type] = max(peaks.get(s.content_type, rival.priority), rival.priority)
    return peaks


def may_be_outranked(plan: Plan, step: Step, peaks: Mapping[str, int]) -> bool:
    """Whether ``outranked`` could hold for any subject, by the peaks of every other published plan's versions."""
    peak = peaks.get(step.content_type)
    return peak is not None and peak > plan.priority


def next_month_start(now: datetime, zone: ZoneInfo, content_type: str, rules: TouchRules) -> datetime:
    """Where a touch refused by WeCom's monthly receive limit is deferred to: the next local month's first slot."""
    local = now.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return timing.next_allowed(following, content_type, rules, zone)[0]


def signal_exit(plan: Plan, signal_type: str, kind: str | None) -> str | None:
    """The exit a signal meets at once (the enrollment ends when it arrives): an order meeting an order exit rule
    (``order_meets_exit``: a full order meets a trial exit), or a negative reply when the plan exits on one. Stage
    and tag exits are met at fire time, by revalidation. Returns the enrollment's exit reason."""
    for rule in plan.exits:
        if _signal_meets(rule, signal_type, kind):
            return f"exit:{rule.type}:{kind or 'any'}"
    return None


def _signal_meets(rule: ExitRule, signal_type: str, kind: str | None) -> bool:
    if rule.type == "order":
        return signal_type == "order" and order_meets_exit(rule.kind, kind)
    return rule.type == "negative_reply" and signal_type == "reply" and kind == "negative"


def fires_at(due: datetime, queued_at: datetime) -> datetime:
    """When the engine fires a touch queued at ``queued_at``: at once when it is due within ``INLINE_FIRE`` (the
    queuing operation fires it), otherwise when its bucket's schedule fires, at the start of the due minute."""
    if due - queued_at <= INLINE_FIRE:
        return queued_at
    return due.replace(second=0, microsecond=0)
