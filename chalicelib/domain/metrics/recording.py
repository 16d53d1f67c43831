"""Which counters each kind of fact adds (issue 11 §1), given what the metrics service looked up about it. Pure.

One function per fact kind; the metrics service (services/metrics.py) resolves the context a signal does not carry
(the customer's channel, owner and add week; the touch an order or a reply follows) and calls these. docs/metrics.md
names every counter and the formula that reads it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics.facts import Add, First, MetricFact

REPLY_WINDOW = 24 * 3600  # a reply counts toward the step whose touch it follows within this
ATTRIBUTION_WINDOW = 7 * 24 * 3600  # an order counts toward the step of the last touch within this (default)


def cohort_of(added_at: datetime, zone: ZoneInfo) -> str:
    """The ISO week of an add in the tenant's zone: ``2026-W49``."""
    year, week, _ = added_at.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def add_fact(ref: str, at: int, date: str, *, kind: str, channel_id: str | None, staff: str) -> MetricFact:
    """A staff member added the customer: ``kind`` new or readd (a re-add is no new customer). A cohort's size is
    the ``new`` of its week's days, so an add writes no cohort counter."""
    counts = ((f.ADDS, 1), (f.NEW if kind == "new" else f.READD, 1))
    adds = (Add(f.CHANNEL, channel_id or f.NO_CHANNEL, counts), Add(f.STAFF, staff, counts))
    return MetricFact("added", ref, date, at, adds)


def lost_fact(
    ref: str, at: int, date: str, *, reason: str, channel_id: str | None, staff: str, cohort: str
) -> MetricFact:
    """The relation ended: ``reason`` lost (the customer deleted the staff member) or ended (the staff member did)."""
    counts = ((f.LOST, 1), (f.LOST_REASON + reason, 1))
    adds = (
        Add(f.CHANNEL, channel_id or f.NO_CHANNEL, counts),
        Add(f.STAFF, staff, counts),
        Add(f.COHORT, cohort, ((f.LOST, 1),)),
    )
    return MetricFact("lost", ref, date, at, adds)


def order_fact(
    ref: str,
    at: int,
    date: str,
    *,
    person: str,
    kind: str,
    amount_fen: int,
    product: str | None,
    channel_id: str | None,
    staff: str,
    cohort: str,
    step: str | None,
    plans: tuple[tuple[str, bool], ...],
) -> MetricFact:
    """An order (trial or full, ``amount_fen``): counted toward the customer's channel and owner, the step of the
    last touch within the attribution window (``step``), and per arm of every plan they are in (``plans``: plan id,
    holdout). Persons are first occurrences: of any order, of a trial or a full order, of a product, in a plan."""
    channel = channel_id or f.NO_CHANNEL
    kind_orders = f.TRIAL_ORDERS if kind == "trial" else f.FULL_ORDERS
    counts = ((f.ORDERS, 1), (kind_orders, 1), (f.REVENUE, amount_fen))
    adds = [Add(f.CHANNEL, channel, counts), Add(f.STAFF, staff, counts)]
    if product:
        adds.append(
            Add(
                f.CHANNEL, channel, ((f"{f.PRODUCT}{product}#orders", 1), (f"{f.PRODUCT}{product}#revenue", amount_fen))
            )
        )
    if step:
        adds.append(Add(f.STEP, step, ((f.CONVERSIONS, 1), (f.CONVERSION_REVENUE, amount_fen))))
    firsts = [
        First(
            f.FIRST_ORDER, "", (Add(f.CHANNEL, channel, ((f.PERSONS, 1),)), Add(f.COHORT, cohort, ((f.PERSONS, 1),)))
        ),
    ]
    if kind == "trial":
        trial = (f.TRIAL_PERSONS, 1), (f.FREE_TRIAL if amount_fen == 0 else f.PAID_TRIAL, 1)
        firsts.append(First(f.FIRST_TRIAL, "", (Add(f.CHANNEL, channel, trial),)))
    else:
        full = Add(f.CHANNEL, channel, ((f.FULL_PERSONS, 1),)), Add(f.COHORT, cohort, ((f.FULL_PERSONS, 1),))
        firsts.append(First(f.FIRST_FULL, "", full))
    if product:
        firsts.append(
            First(f.FIRST_PRODUCT, product, (Add(f.CHANNEL, channel, ((f"{f.PRODUCT}{product}#persons", 1),)),))
        )
    for plan_id, holdout in plans:
        arm = f.HOLDOUT_CONVERTED if holdout else f.CONVERTED
        firsts.append(First(f.FIRST_PLAN, plan_id, (Add(f.PLAN, plan_id, ((arm, 1),)),)))
    return MetricFact("order", ref, date, at, tuple(adds), tuple(firsts), person=person)


def enrolled_fact(ref: str, at: int, date: str, *, plan_id: str, holdout: bool) -> MetricFact:
    arm = f.HOLDOUT_ENROLLED if holdout else f.ENROLLED
    return MetricFact("enrolled", ref, date, at, (Add(f.PLAN, plan_id, ((arm, 1),)),))


def exited_fact(ref: str, at: int, date: str, *, plan_id: str, reason: str) -> MetricFact:
    return MetricFact("exited", ref, date, at, (Add(f.PLAN, plan_id, ((f.EXITED, 1), (f"{f.EXITED}#{reason}", 1))),))


def stage_fact(ref: str, at: int, date: str, *, stage: str) -> MetricFact:
    """A customer entered a lifecycle stage (the silence hand-off makes them silent; an order, trial or converted)."""
    return MetricFact("stage", ref, date, at, (Add(f.TENANT, f.ALL, ((f.STAGE_PREFIX + stage, 1),)),))


def touch_fact(
    ref: str, at: int, date: str, *, step: str, touches: int = 0, tasks: int = 0, reason: str | None = None
) -> MetricFact:
    """A plan step's touches: ``touches`` delivered by one fire into ``tasks`` staff tasks WeCom holds, or, with
    ``reason``, one touch skipped (holdout, caps, quiet hours, failed:<errcode>, ...)."""
    if reason is None:
        counts = ((f.TOUCHES, touches), (f.TASKS_CREATED, tasks))
        adds = (Add(f.STEP, step, ((f.DELIVERED, touches), (f.TASKS_CREATED, tasks))), Add(f.TENANT, f.ALL, counts))
        return MetricFact("delivered", ref, date, at, adds)
    skipped = (Add(f.STEP, step, ((f.SKIPPED, 1), (f.SKIPPED_REASON + reason, 1))),)
    return MetricFact("touch_skipped", ref, date, at, skipped)


def message_fact(ref: str, at: int, date: str, *, person: str, step: str | None) -> MetricFact:
    """An inbound message from a customer: a message, the day's speaker and active customer (first occurrences of
    the person that day), and a reply to ``step`` when it follows the step's touch within 24 hours."""
    adds = [Add(f.TENANT, f.ALL, ((f.MESSAGES, 1),))]
    if step:
        adds.append(Add(f.STEP, step, ((f.REPLIES, 1),)))
    firsts = (
        First(f.FIRST_SPEAK, date, (Add(f.TENANT, f.ALL, ((f.SPEAKERS, 1),)),)),
        First(f.FIRST_ACTIVE, date, (Add(f.TENANT, f.ALL, ((f.ACTIVE, 1),)),)),
    )
    return MetricFact("reply", ref, date, at, tuple(adds), firsts, person=person)


def activity_fact(ref: str, at: int, date: str, *, person: str, kind: str) -> MetricFact:
    """Any other activity of a customer (a check-in, a share, an order): the day's active customer."""
    first = First(f.FIRST_ACTIVE, date, (Add(f.TENANT, f.ALL, ((f.ACTIVE, 1),)),))
    return MetricFact(f"active:{kind}", ref, date, at, (), (first,), person=person)


def task_fact(ref: str, at: int, date: str, *, staff: str, latency: int) -> MetricFact:
    """A staff task confirmed ``latency`` seconds after it was created."""
    latency = max(latency, 0)
    counts = [(f.TASKS_CONFIRMED, 1), (f.LATENCY_SUM, latency), (f.latency_bucket(latency), 1)]
    if latency <= f.ON_TIME_WINDOW:
        counts.append((f.ON_TIME, 1))
    return MetricFact("task_confirmed", ref, date, at, (Add(f.STAFF, staff, tuple(counts)),))


def task_sent_fact(ref: str, at: int, date: str, *, staff: str, waited: int) -> MetricFact:
    """WeCom reports the staff member sent their mass task, ``waited`` seconds after it was created."""
    counts = [(f.TASKS_SENT, 1)]
    if max(waited, 0) <= f.ON_TIME_WINDOW:
        counts.append((f.SENT_ON_TIME, 1))
    return MetricFact("task_sent", ref, date, at, (Add(f.STAFF, staff, tuple(counts)),))
