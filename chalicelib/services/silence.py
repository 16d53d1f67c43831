"""Silence timers: a customer with no inbound activity for a plan's ``silence.days`` exits and is handed off.

Silence without scanning customers: each enrollment into a plan with a silence rule starts one timer item beside the
enrollment, indexed at its due time (adapters/dynamodb/silence.py). Inbound activity moves the timer forward with a
conditional update; the silence job (every 15 minutes) reads only the index partitions of today and the days before,
up to now. For each due timer it wins a claim (a lease, so a crashed run is retried and a concurrent run backs off),
decides with the state as it is then, ends the enrollment with reason "silence", enrolls the customer into the plan's
``then_plan_id`` (source "silence") and deletes the timer. Every step is conditional or checked under the claim, so
repeated and concurrent runs hand each silent customer off once.

It hears signals (services/signals.py): ``enrolled`` starts a timer, ``repinned`` moves it to the new version's rule,
the customer's own activity (domain/silence.ACTIVITY_SIGNALS) restarts it. It tells: ``stage`` when a customer goes
silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.enrollments import SILENT_FROM
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.plans import Plan
from chalicelib.domain.signals import EXITED as EXITED_SIGNAL
from chalicelib.domain.signals import STAGE, Signal
from chalicelib.domain.silence import SILENCE, SilenceTimer, from_key, silence_due, timer_for
from chalicelib.domain.sop import COMPLETED, EXITED, Enrollment, exit_reason
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, Enroller, IdGenerator, PlanVersions, SignalPublisher

LOOKBACK_DAYS = 7  # index partitions read before today: a job outage shorter than this loses no hand-off
CLAIM_LEASE = timedelta(minutes=15)  # a claimed timer whose run died is taken again after this


class SilenceRepo(Protocol):
    """What the silence timers need from storage (DynamoStore / FakeStore)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None: ...
    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool: ...
    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool: ...
    def put_silence_timer(self, tenant_id: str, timer: SilenceTimer) -> bool: ...
    def silence_timers_of(self, tenant_id: str, customer_id: str) -> list[SilenceTimer]: ...
    def move_silence_timer(self, tenant_id: str, timer: SilenceTimer, due: str) -> bool: ...
    def due_silence_timers(self, tenant_id: str, *, day: str, until: str) -> list[SilenceTimer]: ...
    def claim_silence_timer(
        self, tenant_id: str, timer: SilenceTimer, *, token: str, now: str, lease_until: str
    ) -> SilenceTimer | None: ...
    def delete_silence_timer(self, tenant_id: str, timer: SilenceTimer, *, token: str) -> bool: ...
    def repin_silence_timer(self, tenant_id: str, timer: SilenceTimer, to: SilenceTimer | None) -> bool: ...


@dataclass
class SilenceReport:
    """One tenant's silence run: timers found due, enrollments exited for silence, hand-offs made, timers of
    enrollments that had ended otherwise (removed), timers another run holds or activity moved (left), timers that
    failed (retried after their lease) and timers left for the next run because the time budget ran out."""

    due: int = 0
    exited: int = 0
    handed_off: int = 0
    stale: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0


class SilenceService:
    def __init__(
        self,
        repo: SilenceRepo,
        enroller: Enroller,
        plans: PlanVersions,
        signals: SignalPublisher,
        clock: Clock,
        ids: IdGenerator,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.enroller = enroller
        self.plans = plans
        self.signals = signals
        self.clock = clock
        self.ids = ids
        self.monotonic = monotonic

    # --- what it hears ----------------------------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        """The bus's entry: ``enrolled`` and ``repinned`` carry the enrollment and plan; anything else subscribed
        is the customer's own activity."""
        if signal.type == "enrolled":
            self.on_enrolled(tenant, signal.enrollment, signal.plan)
        elif signal.type == "repinned":
            self.on_repinned(tenant, signal.enrollment, signal.plan)
        else:
            self.on_activity(tenant, customer_id, signal.at)

    def on_enrolled(self, tenant: Tenant, enrollment: Enrollment, plan: Plan) -> bool:
        """Start the enrollment's silence timer (``plan`` is the version it is pinned to). No-op without a silence
        rule; a repeat for the same enrollment changes nothing. True if a timer was written."""
        timer = timer_for(
            plan,
            customer_id=enrollment.customer_id,
            enrollment_id=enrollment.enrollment_id,
            enrolled_at=datetime.fromisoformat(enrollment.enrolled_at),
        )
        return timer is not None and self.repo.put_silence_timer(tenant.tenant_id, timer)

    def on_repinned(self, tenant: Tenant, enrollment: Enrollment, plan: Plan) -> bool:
        """A migration pinned ``enrollment`` to ``plan`` (the new version): its silence timer follows that
        version's rule. The silent days already counted keep counting (due = last activity + the new days); a
        rule the new version adds starts now; a rule it drops removes the timer. True if a timer changed."""
        tid = tenant.tenant_id
        timer = next(
            (
                t
                for t in self.repo.silence_timers_of(tid, enrollment.customer_id)
                if t.plan_id == enrollment.plan_id and t.enrollment_id == enrollment.enrollment_id
            ),
            None,
        )
        if timer is None:
            started = timer_for(
                plan,
                customer_id=enrollment.customer_id,
                enrollment_id=enrollment.enrollment_id,
                enrolled_at=self.clock.now(),
            )
            return started is not None and self.repo.put_silence_timer(tid, started)
        if plan.silence is None:
            return self.repo.repin_silence_timer(tid, timer, None)
        last_activity = from_key(timer.due) - timedelta(days=timer.days)
        moved = replace(
            timer,
            version=plan.version,
            days=plan.silence.days,
            then_plan_id=plan.silence.then_plan_id or None,
            due=silence_due(last_activity, plan.silence.days),
        )
        return self.repo.repin_silence_timer(tid, timer, moved)

    def on_activity(self, tenant: Tenant, customer_id: str, at: datetime) -> int:
        """The customer did something at ``at``: each of its silence timers restarts from then (only forward, so a
        late-delivered older event changes nothing). Returns the timers moved."""
        at = min(at, self.clock.now())  # a sender's clock ahead of ours must not buy extra days
        return sum(
            self.repo.move_silence_timer(tenant.tenant_id, timer, silence_due(at, timer.days))
            for timer in self.repo.silence_timers_of(tenant.tenant_id, customer_id)
        )

    def run_silence(self, tenant_id: str, *, deadline: float | None = None) -> SilenceReport:
        """Hand off every customer whose silence timer is due: today's index partition and the ``LOOKBACK_DAYS``
        before it, up to now. Safe to run twice or concurrently: each timer is handled under one claim. Past
        ``deadline`` (a ``monotonic`` instant) no further timer is started: the rest stay due for the next run."""
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        report = SilenceReport()
        now = self.clock.now()
        until = utc_key(now)
        versions: dict[tuple[str, int], Plan | None] = {}
        for back in range(LOOKBACK_DAYS, -1, -1):
            day = (now - timedelta(days=back)).astimezone(UTC).date().isoformat()
            for timer in self.repo.due_silence_timers(tenant_id, day=day, until=until):
                report.due += 1
                if deadline is not None and self.monotonic() >= deadline:
                    report.deferred += 1
                    continue
                try:
                    self._expire(tenant, timer, now, versions, report)
                except SiyuError as exc:  # the claim stays; after its lease a later run retries this timer
                    report.failed += 1
                    logger.warning("silence timer failed", extra={"tenant": tenant_id, "code": exc.code})
        for name in ("exited", "handed_off", "failed", "deferred"):
            if getattr(report, name):
                count(f"Silence.{name}", getattr(report, name))
        return report

    def _expire(
        self,
        tenant: Tenant,
        timer: SilenceTimer,
        now: datetime,
        versions: dict[tuple[str, int], Plan | None],
        report: SilenceReport,
    ) -> None:
        tid = tenant.tenant_id
        token = self.ids.new_id("sil_")
        claimed = self.repo.claim_silence_timer(
            tid, timer, token=token, now=utc_key(now), lease_until=utc_key(now + CLAIM_LEASE)
        )
        if claimed is None:  # another run holds it, or activity moved it since the index was read
            report.skipped += 1
            return
        customer = self.repo.get_customer(tid, timer.customer_id)
        if customer is not None and self._end(tenant, claimed, customer, now, versions, report):
            self._mark_silent(tenant, customer)
            if self._hand_off(tenant, claimed, customer):
                report.handed_off += 1
        else:
            report.stale += 1
        self.repo.delete_silence_timer(tid, claimed, token=token)

    def _end(
        self,
        tenant: Tenant,
        timer: SilenceTimer,
        customer: Customer,
        now: datetime,
        versions: dict[tuple[str, int], Plan | None],
        report: SilenceReport,
    ) -> bool:
        """End the timer's enrollment for silence; True if the customer is to be handed off. An enrollment that
        completed its steps is handed off too (silence outlives the last step, as in the simulator); one that
        exited otherwise, or whose customer now meets an exit rule, is not."""
        tid = tenant.tenant_id
        for _ in range(2):
            enrollment = self.repo.get_enrollment(tid, timer.customer_id, timer.plan_id)
            if enrollment is None or enrollment.enrollment_id != timer.enrollment_id:
                return False  # erased, or a later run of the plan replaced this one (it has its own timer)
            if enrollment.status == COMPLETED:
                return True
            if enrollment.status == EXITED:
                return enrollment.exit_reason == SILENCE  # ours, from a run that died before the hand-off
            key = (timer.plan_id, enrollment.version)
            if key not in versions:
                versions[key] = self.plans.plan_version(tid, timer.plan_id, enrollment.version)
            plan = versions[key]
            met = exit_reason(plan, customer) if plan is not None else None
            at = iso_of(now, tenant.zone)
            if self.repo.end_enrollment(tid, enrollment, status=EXITED, reason=met or SILENCE, at=at):
                told = Signal(EXITED_SIGNAL, now, kind=met or SILENCE, plan_id=enrollment.plan_id)
                self.signals.publish(tenant, timer.customer_id, told)
                if met:
                    return False  # e.g. reached a stage exit no touch has re-validated yet: an exit, not silence
                report.exited += 1
                return True
        return False

    def _mark_silent(self, tenant: Tenant, customer: Customer) -> None:
        """The customer went silent: stage ``silent`` (never over trial/converted or lost), and the plans that
        stage triggers, before the hand-off (which enrolls a silent customer, so the stage stays)."""
        if customer.stage in SILENT_FROM and self.repo.advance_stage(
            tenant.tenant_id, customer.customer_id, to=Stage.SILENT, from_stages=SILENT_FROM
        ):
            self.signals.publish(
                tenant, customer.customer_id, Signal(STAGE, self.clock.now(), stage=Stage.SILENT.value)
            )

    def _hand_off(self, tenant: Tenant, timer: SilenceTimer, customer: Customer) -> bool:
        """Enroll the silent customer into the plan's silent-customer plan, once per claimed timer."""
        tid = tenant.tenant_id
        if not timer.then_plan_id:
            return False
        if customer.stage == Stage.LOST or not customer.active_relations:
            return False  # gone, not silent: nobody could receive the silent-customer plan
        existing = self.repo.get_enrollment(tid, timer.customer_id, timer.then_plan_id)
        if (
            existing is not None
            and existing.source == SILENCE
            and timer.claimed_at is not None
            and utc_key(datetime.fromisoformat(existing.enrolled_at)) >= timer.claimed_at
        ):
            return True  # an earlier run under this claim enrolled it, then died before deleting the timer
        try:
            return self.enroller.enroll(tenant, timer.customer_id, timer.then_plan_id, source=SILENCE) is not None
        except NotFoundError:
            logger.warning("silence hand-off plan is gone", extra={"tenant": tid, "plan": timer.then_plan_id})
            return False
