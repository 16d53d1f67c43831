"""The funnel metrics' writer (issue 11 §1): a signal subscriber that turns each fact into its counters, once.

No service writes a counter by hand: publishers tell the signal bus what happened (services/signals.py) and this
subscriber counts it. It looks up what a signal does not carry (the customer's channel, owner and add week; the touch
an order or a reply follows; the plans a buyer is in), asks domain/metrics/recording.py which counters the fact adds,
and has the store count it once per identity (adapters/dynamodb/metrics.py). A signal without an identity is not
counted (none is published that way).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain import signals as s
from chalicelib.domain.channels import Channel, legacy_referral_id
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import local_date
from chalicelib.domain.metrics import recording as r
from chalicelib.domain.metrics.facts import MetricFact, step_id
from chalicelib.domain.signals import Signal
from chalicelib.domain.sop import Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import plan_of_bucket
from chalicelib.observability import count

HoldoutArm = Callable[[Tenant, Enrollment], bool]  # whether the enrollment's customer is in its plan's holdout


class MetricsRepo(Protocol):
    def record_metric_fact(self, tenant_id: str, fact: MetricFact) -> bool: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def recent_sent(self, tenant_id: str, customer_id: str, months: list[str]) -> list[tuple[int, str]]: ...
    def metric_fact_logged(self, tenant_id: str, fact_type: str, ref: str, dates: list[str]) -> bool: ...


COUNTED_STAGES = frozenset({"silent"})  # the stages a figure reads (docs/metrics.md, "silent")
REFERRAL_PREFIX = "rf_"
LEGACY_REFERRALS = "rf_legacy"  # every legacy referral code (named after its referrer) counts under this one id


def _channel(channel_id: str | None, referrer: str | None) -> str | None:
    """The channel a customer's facts count toward: their channel, except a legacy referral code, whose id names
    its referrer (domain/channels.legacy_referral_id) and so must not become a key that outlives their erasure."""
    if channel_id and referrer and channel_id == legacy_referral_id(referrer):
        return LEGACY_REFERRALS
    return channel_id


def new_customer_ref(customer_id: str) -> str:
    """A new customer's add: a customer is new once, so their id is the fact's identity."""
    return f"new:{customer_id}"


def _anonymous(fact: MetricFact) -> MetricFact:
    """The log keeps the identity as a digest: some identities are made of ids (a task's and its customer's, a new
    customer's), and the log must name nobody."""
    return replace(fact, ref=hashlib.sha256(f"{fact.type}|{fact.ref}".encode()).hexdigest()[:32])


def _step_of_bucket(bucket_id: str | None) -> str | None:
    if not bucket_id:
        return None
    try:
        plan_id, version, step = plan_of_bucket(bucket_id)
    except ValueError:
        return None
    return step_id(plan_id, version, step)


class MetricsRecorder:
    """Subscribed to every signal a metric counts (``TYPES``)."""

    TYPES = (
        s.ADDED,
        s.LOST,
        s.ORDER,
        s.REPLY,
        s.CHECKIN,
        s.SHARE,
        s.ENROLLED,
        s.EXITED,
        s.TOUCHES_DELIVERED,
        s.TOUCH_SKIPPED,
        s.TASK_CONFIRMED,
        s.TASK_SENT,
        s.STAGE,
    )

    def __init__(self, repo: MetricsRepo, *, holdout: HoldoutArm | None = None) -> None:
        self.repo = repo
        self.holdout = holdout or (lambda tenant, enrollment: False)

    def __call__(self, tenant: Tenant, subject_id: str, signal: Signal) -> object:
        fact = self.fact(tenant, subject_id, signal)
        if fact is None:
            return None
        fact = _anonymous(fact)
        counted = self.repo.record_metric_fact(tenant.tenant_id, fact)
        count("Metrics.fact" if counted else "Metrics.duplicate")
        return counted

    def fact(self, tenant: Tenant, subject_id: str, signal: Signal) -> MetricFact | None:
        """The fact a signal makes, with what it needs looked up; None if it makes none."""
        at = int(signal.at.timestamp())
        date = local_date(at, tenant.zone)
        kind = signal.type
        if kind == s.ENROLLED and signal.enrollment is not None:
            e: Enrollment = signal.enrollment
            held = signal.holdout
            return r.enrolled_fact(e.enrollment_id, at, date, plan_id=e.plan_id, holdout=held)
        if not signal.ref and kind not in (s.EXITED, s.STAGE):
            return None
        ref = signal.ref or ""
        if kind == s.TOUCHES_DELIVERED or kind == s.TOUCH_SKIPPED:
            step = _step_of_bucket(signal.bucket_id)
            if step is None:
                return None
            if kind == s.TOUCHES_DELIVERED:
                return r.touch_fact(ref, at, date, step=step, touches=signal.count or 0, tasks=signal.tasks or 0)
            return r.touch_fact(ref, at, date, step=step, reason=signal.kind)
        if kind == s.STAGE:
            if signal.stage not in COUNTED_STAGES:
                return None  # a stage no figure reads: not worth an enrollment's two more writes
            return r.stage_fact(ref or f"{subject_id}:{signal.stage}:{at}", at, date, stage=signal.stage)
        if kind == s.TASK_SENT:
            waited = int((signal.at - signal.since).total_seconds()) if signal.since else 0
            return r.task_sent_fact(ref, at, date, staff=subject_id, waited=waited)
        if kind == s.TASK_CONFIRMED:
            if signal.staff is None or signal.since is None:
                return None
            latency = int((signal.at - signal.since).total_seconds())
            return r.task_fact(ref, at, date, staff=signal.staff, latency=latency)
        if kind == s.EXITED:
            ref = signal.ref or f"{subject_id}:{signal.plan_id}:{at}"
            return r.exited_fact(ref, at, date, plan_id=signal.plan_id or "-", reason=signal.kind or "unknown")
        if kind == s.ADDED:
            if (signal.kind or "new") == "new":
                ref = new_customer_ref(subject_id)  # what the catch-up finds it by (``catch_up_adds``)
            staff, channel_id = signal.staff or "-", signal.channel_id
            if channel_id and channel_id.startswith(REFERRAL_PREFIX):  # perhaps a legacy code named after its referrer
                code = self.repo.get_channel(tenant.tenant_id, channel_id)
                channel_id = _channel(channel_id, code.referrer_customer_id if code is not None else None)
            return r.add_fact(ref, at, date, kind=signal.kind or "new", channel_id=channel_id, staff=staff)
        customer = self.repo.get_customer(tenant.tenant_id, subject_id)
        if customer is None:
            return None  # erased, or no customer (a group's subject): nothing to count it toward
        channel = _channel(customer.source_channel_id or None, customer.referrer_customer_id)
        staff = customer.owner_userid or "-"
        cohort = r.cohort_of(datetime.fromisoformat(customer.added_at), tenant.zone)
        if kind == s.LOST:
            return r.lost_fact(
                ref, at, date, reason=signal.kind or "lost", channel_id=channel, staff=staff, cohort=cohort
            )
        if kind == s.ORDER:
            plans = tuple(
                (e.plan_id, self.holdout(tenant, e)) for e in self.repo.enrollments_of(tenant.tenant_id, subject_id)
            )
            return r.order_fact(
                ref,
                at,
                date,
                person=subject_id,
                kind=signal.kind or "full",
                amount_fen=signal.amount or 0,
                product=signal.product,
                channel_id=channel,
                staff=staff,
                cohort=cohort,
                step=self._last_step(tenant, subject_id, signal.at, r.ATTRIBUTION_WINDOW),
                plans=tuple(dict.fromkeys(plans)),
            )
        if kind == s.REPLY:
            if signal.chat_id:  # a group message: the group's facts count it (services/group_facts.py)
                return r.activity_fact(ref, at, date, person=subject_id, kind="group_message")
            step = self._last_step(tenant, subject_id, signal.at, r.REPLY_WINDOW)
            return r.message_fact(ref, at, date, person=subject_id, step=step)
        return r.activity_fact(ref, at, date, person=subject_id, kind=kind)

    def _last_step(self, tenant: Tenant, customer_id: str, at: datetime, window: int) -> str | None:
        """The step of the customer's last touch due within ``window`` seconds before ``at``, if any."""
        start = at - timedelta(seconds=window)
        months = sorted({instant.astimezone(tenant.zone).strftime("%Y-%m") for instant in (start, at)})
        since, until = int(at.timestamp()) - window, int(at.timestamp())
        recent = [b for due, b in self.repo.recent_sent(tenant.tenant_id, customer_id, months) if since <= due <= until]
        return _step_of_bucket(recent[-1]) if recent else None

    def catch_up_adds(self, tenant: Tenant, customers: list[Customer]) -> int:
        """Count the adds of new customers whose callback died between storing them and counting them (the
        backstop's, a few minutes later): each one whose fact is in neither the day of its add nor the next (the
        live count's day, its clock seconds later) is counted now, once. How many were caught up."""
        caught = 0
        for customer in customers:
            added = datetime.fromisoformat(customer.added_at)
            at = int(added.timestamp())
            date = local_date(at, tenant.zone)
            channel = _channel(customer.source_channel_id or None, customer.referrer_customer_id)
            fact = _anonymous(
                r.add_fact(
                    new_customer_ref(customer.customer_id),
                    at,
                    date,
                    kind="new",
                    channel_id=channel,
                    staff=customer.owner_userid or "-",
                )
            )
            after = local_date(at + 86_400, tenant.zone)
            if self.repo.metric_fact_logged(tenant.tenant_id, fact.type, fact.ref, [date, after]):
                continue
            if self.repo.record_metric_fact(tenant.tenant_id, fact):
                caught += 1
                count("Metrics.add_caught_up")
        return caught
