"""Metric facts (issue 11 §1): what one signal adds to the day counters, once per identity. Pure.

A fact is the signal's type and identity (``ref``: an event digest, a task id, a touch's key; a replay carries the
same), its tenant-local day, and the counter ADDs it makes per dimension. ``firsts`` are first occurrences of a
person (their first order ever, their first trial, their first order of a product, their first conversion in a
plan): a person counter (ordering persons, trial users) is added only if the person's marker is new, so persons
are counted without scanning anything. The fact log keeps each fact with the ADDs it actually made and nothing
about the person, so a rebuild (``fold``) sums the log and erasure leaves the anonymous counts as they are.

Dimensions and their ids (docs/metrics.md):
- ``channel``: the add's channel (``-`` for adds outside any channel code); also the order's and the loss's (the
  customer's acquisition channel). Campaign and source platform are attributes of a channel, so their figures are
  the channel rows summed by them at read time: no second write.
- ``staff``: the staff member (an add's, a task's; an order's and a loss's owner).
- ``plan``: a plan id (enrolled, holdout, converted per arm, exits).
- ``step``: ``<plan_id>.<version>.<step_id>`` (delivered, skipped by reason, replies within 24 h, conversions).
- ``tenant``: ``all`` (inbound messages, daily speakers, active customers, touches sent).
- ``cohort``: the ISO week of the customer's add, ``2026-W49`` (adds, lost, converters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

CHANNEL, STAFF, PLAN, STEP, TENANT, COHORT = "channel", "staff", "plan", "step", "tenant", "cohort"
WEEK = "week"  # id ``all``, date the ISO week's Monday: the week's distinct touched customers (the nightly count)
DIMENSIONS = (CHANNEL, STAFF, PLAN, STEP, TENANT, COHORT)
NO_CHANNEL = "-"
ALL = "all"

# Counter names (attributes of a dimension's day item).
ADDS, NEW, READD, LOST = "adds", "new", "readd", "lost"
LOST_REASON = "lost#"  # + the reason: lost (the customer deleted the staff member) | ended (the staff member did)
ORDERS, TRIAL_ORDERS, FULL_ORDERS, REVENUE = "orders", "orders_trial", "orders_full", "revenue"  # revenue in fen
PERSONS, TRIAL_PERSONS, FULL_PERSONS = "persons", "trial_persons", "full_persons"  # first order (of a kind) ever
FREE_TRIAL, PAID_TRIAL = "free_trial_persons", "paid_trial_persons"  # first trial: at 0, or paid
PRODUCT = "p#"  # p#<product>#orders, p#<product>#persons, p#<product>#revenue
ENROLLED, HOLDOUT_ENROLLED = "enrolled", "enrolled_holdout"
CONVERTED, HOLDOUT_CONVERTED = "converted", "converted_holdout"  # first order within the plan, per arm
EXITED = "exited"
DELIVERED, SKIPPED, SKIPPED_REASON = "delivered", "skipped", "skipped#"
REPLIES = "replies"  # a reply within 24 h of the step's touch
CONVERSIONS, CONVERSION_REVENUE = "conversions", "conversion_revenue"  # orders whose last touch (7 days) is the step
MESSAGES, SPEAKERS, ACTIVE = "messages", "speakers", "active"  # speakers, active: first of a person that day
TOUCHES = "touches"
TASKS_CREATED = "tasks_created"
TOUCHED = "touched"  # distinct customers a week's delivered staff tasks reached (a WEEK counter, counted nightly)
TASKS_SENT, SENT_ON_TIME = "tasks_sent", "tasks_sent_on_time"  # WeCom says sent (task sync); within the hour
STAGE_PREFIX = "stage#"  # + the stage: customers who entered it (nurturing, silent, trial, converted, ...)
TASKS_CONFIRMED, LATENCY_SUM = "tasks_confirmed", "latency_sum"  # confirmation latency in seconds
LATENCY_BUCKET = "lat#"  # + the bucket's upper bound in seconds: the histogram percentiles are read from
LATENCY_BOUNDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
ON_TIME, ON_TIME_WINDOW = "tasks_on_time", 3600  # confirmed within an hour of the task's creation

# First-occurrence scopes (the marker's name; ``date`` scopes it to a day, ``key`` to a product or a plan).
FIRST_ORDER, FIRST_TRIAL, FIRST_FULL, FIRST_PRODUCT, FIRST_PLAN = "order", "trial", "full", "product", "plan"
FIRST_SPEAK, FIRST_ACTIVE = "speak", "active"


@dataclass(frozen=True)
class Add:
    """Counter ADDs to one dimension's day."""

    dimension: str
    dimension_id: str
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class First:
    """A person's first occurrence in ``scope`` (per ``key``; per ``date`` for daily scopes): if new, ``adds``."""

    scope: str
    key: str
    adds: tuple[Add, ...]


@dataclass(frozen=True)
class MetricFact:
    type: str  # the signal's type
    ref: str
    date: str  # tenant-local day of the fact
    at: int  # unix seconds
    adds: tuple[Add, ...]
    firsts: tuple[First, ...] = ()
    person: str | None = None  # whose firsts (a customer id): kept in their partition's markers only, never logged

    def counted(self, won: Iterable[First]) -> MetricFact:
        """The fact as counted: its own ADDs and those of the firsts that were new; no person. What the log keeps."""
        adds = list(self.adds)
        for first in won:
            adds.extend(first.adds)
        return replace(self, adds=merge(adds), firsts=(), person=None)


def merge(adds: Iterable[Add]) -> tuple[Add, ...]:
    """One Add per dimension id, counts summed (order of first appearance)."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for add in adds:
        slot = out.setdefault((add.dimension, add.dimension_id), {})
        for name, n in add.counts:
            slot[name] = slot.get(name, 0) + n
    return tuple(Add(d, i, tuple(c.items())) for (d, i), c in out.items())


def fold(facts: Iterable[MetricFact]) -> dict[tuple[str, str, str], dict[str, int]]:
    """The day counters a set of counted facts makes: (dimension, id, date) → counters. The rebuild's sum."""
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    for fact in facts:
        for add in fact.adds:
            slot = out.setdefault((add.dimension, add.dimension_id, fact.date), {})
            for name, n in add.counts:
                slot[name] = slot.get(name, 0) + n
    return out


def latency_bucket(seconds: int) -> str:
    """The histogram bucket of a confirmation latency: the first bound it does not exceed (``inf`` past the last)."""
    for bound in LATENCY_BOUNDS:
        if seconds <= bound:
            return f"{LATENCY_BUCKET}{bound}"
    return f"{LATENCY_BUCKET}inf"


def step_id(plan_id: str, version: int, step: str) -> str:
    return f"{plan_id}.{version}.{step}"
