"""Customer lifecycle around plans: silence timers and hand-offs, and enrollment by tag and stage triggers.

Silence without scanning customers: each enrollment into a plan with a silence rule starts one timer item beside the
enrollment, indexed at its due time (adapters/dynamodb/silence.py). Inbound activity moves the timer forward with a
conditional update; the silence job (every 15 minutes) reads only the index partitions of today and the days before,
up to now. For each due timer it wins a claim (a lease, so a crashed run is retried and a concurrent run backs off),
decides with the state as it is then, ends the enrollment with reason "silence", enrolls the customer into the plan's
``then_plan_id`` (source "silence") and deletes the timer. Every step is conditional or checked under the claim, so
repeated and concurrent runs hand each silent customer off once.

Triggers: a tag added enrolls into the published plans whose trigger is that tag, a stage entered into those whose
trigger is that stage. A tenant has few plans, so the published ones are listed (and cached briefly) rather than
indexed by trigger; the engine's enroll applies audience and re-entry policy, so a repeated trigger enrolls once.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, cast

from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.enrollments import SILENT_FROM
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.plans import Plan
from chalicelib.domain.silence import (
    ACTIVITY_SIGNALS,
    SILENCE,
    SilenceTimer,
    from_key,
    silence_due,
    stage_triggered,
    tag_triggered,
    timer_for,
)
from chalicelib.domain.sop import COMPLETED, EXITED, Enrollment, exit_reason
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, IdGenerator, Page, Signal

if TYPE_CHECKING:
    from chalicelib.services.sop import SopEngine

LOOKBACK_DAYS = 7  # index partitions read before today: a job outage shorter than this loses no hand-off
CLAIM_LEASE = timedelta(minutes=15)  # a claimed timer whose run died is taken again after this
PLAN_CACHE_SECONDS = 30.0  # a newly published trigger plan catches triggers within this (per warm Lambda)
PLAN_PAGE = 100


class LifecycleRepo(Protocol):
    """What the lifecycle needs from storage (DynamoStore / FakeStore)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None: ...
    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool: ...
    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool: ...
    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...
    def put_silence_timer(self, tenant_id: str, timer: SilenceTimer) -> bool: ...
    def silence_timers_of(self, tenant_id: str, customer_id: str) -> list[SilenceTimer]: ...
    def move_silence_timer(self, tenant_id: str, timer: SilenceTimer, due: str) -> bool: ...
    def due_silence_timers(self, tenant_id: str, *, day: str, until: str) -> list[SilenceTimer]: ...
    def claim_silence_timer(
        self, tenant_id: str, timer: SilenceTimer, *, token: str, now: str, lease_until: str
    ) -> SilenceTimer | None: ...
    def delete_silence_timer(self, tenant_id: str, timer: SilenceTimer, *, token: str) -> bool: ...
    def repin_silence_timer(self, tenant_id: str, timer: SilenceTimer, to: SilenceTimer | None) -> bool: ...


class Enroller(Protocol):
    def enroll(
        self, tenant: Tenant, customer_id: str, plan_id: str, *, source: str = "manual"
    ) -> Enrollment | None: ...


class PlanVersions(Protocol):
    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None: ...


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


class LifecycleService:
    def __init__(
        self,
        repo: LifecycleRepo,
        enroller: Enroller,
        plans: PlanVersions,
        clock: Clock,
        ids: IdGenerator,
        *,
        plan_cache_seconds: float = PLAN_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.enroller = enroller
        self.plans = plans
        self.clock = clock
        self.ids = ids
        self.plan_cache_seconds = plan_cache_seconds
        self.monotonic = monotonic
        self._triggers: dict[str, tuple[float, list[Plan]]] = {}

    # --- silence timers ---------------------------------------------------------------------------------------

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

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> list[str]:
        """What SopEngine.on_signal hands over: inbound activity moves silence timers; a stage entered or a tag added
        enrolls into the plans it triggers. Returns the plans enrolled."""
        if signal.type in ACTIVITY_SIGNALS:
            self.on_activity(tenant, customer_id, signal.at)
        if signal.type == "stage" and signal.stage:
            return self.on_stage_entered(tenant, customer_id, signal.stage)
        if signal.type == "tag" and signal.tag_id:
            return self.on_tags_added(tenant, customer_id, [signal.tag_id])
        return []

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
            self.on_stage_entered(tenant, customer.customer_id, Stage.SILENT.value)

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
            return self._enroll(tenant, timer.customer_id, timer.then_plan_id, SILENCE) is not None
        except NotFoundError:
            logger.warning("silence hand-off plan is gone", extra={"tenant": tid, "plan": timer.then_plan_id})
            return False

    # --- triggers ---------------------------------------------------------------------------------------------

    def on_tags_added(self, tenant: Tenant, customer_id: str, tag_ids: Iterable[str]) -> list[str]:
        """Tags were added to a customer: enroll into every published plan triggered by one of them (audience and
        re-entry policy apply). Returns the plans enrolled."""
        added = set(tag_ids)
        if not added:
            return []
        plans = [p for p in self._trigger_plans(tenant.tenant_id) if tag_triggered(p, added)]
        return self._enroll_all(tenant, customer_id, plans, "tag")

    def on_channel_added(self, tenant: Tenant, customer_id: str, channel_id: str) -> list[str]:
        """A customer was added through a channel: enroll into every published plan whose trigger names it (a
        channel's own ``plan_id`` is enrolled by intake as well; the re-entry policy keeps that to one)."""
        plans = [
            p
            for p in self._trigger_plans(tenant.tenant_id)
            if p.trigger.type == "channel" and p.trigger.channel_id == channel_id
        ]
        return self._enroll_all(tenant, customer_id, plans, "channel")

    def on_stage_entered(self, tenant: Tenant, customer_id: str, stage: str) -> list[str]:
        """The customer entered a lifecycle stage: enroll into every published plan triggered by it."""
        plans = [p for p in self._trigger_plans(tenant.tenant_id) if stage_triggered(p, stage)]
        return self._enroll_all(tenant, customer_id, plans, "stage")

    def _enroll_all(self, tenant: Tenant, customer_id: str, plans: list[Plan], source: str) -> list[str]:
        enrolled = []
        for plan in plans:  # highest priority first
            try:
                if self._enroll(tenant, customer_id, plan.plan_id, source) is not None:
                    enrolled.append(plan.plan_id)
            except SiyuError as exc:  # one plan's failure must not keep the customer out of the others
                logger.warning(
                    "trigger enrollment failed",
                    extra={"tenant": tenant.tenant_id, "plan": plan.plan_id, "code": exc.code},
                )
        return enrolled

    def _enroll(self, tenant: Tenant, customer_id: str, plan_id: str, source: str) -> Enrollment | None:
        """The engine's enroll, and the new enrollment's silence timer (repeat-safe if the engine started it)."""
        enrollment = self.enroller.enroll(tenant, customer_id, plan_id, source=source)
        if enrollment is not None:
            pinned = self.plans.plan_version(tenant.tenant_id, plan_id, enrollment.version)
            if pinned is not None:
                self.on_enrolled(tenant, enrollment, pinned)
        return enrollment

    def _trigger_plans(self, tenant_id: str) -> list[Plan]:
        """Published plans with a tag, stage or channel trigger, highest priority first (briefly cached)."""
        now = self.monotonic()
        hit = self._triggers.get(tenant_id)
        if hit is not None and now - hit[0] < self.plan_cache_seconds:
            return hit[1]
        plans: list[Plan] = []
        cursor = None
        while True:
            page = self.repo.list_plans(tenant_id, status="published", cursor=cursor, limit=PLAN_PAGE)
            plans += [p for p in page.items if p.trigger.type in ("tag", "stage", "channel")]
            cursor = page.next_cursor
            if not cursor:
                break
        plans.sort(key=lambda p: (-p.priority, p.plan_id))
        self._triggers[tenant_id] = (now, plans)
        return plans


_BY_ENGINE: weakref.WeakKeyDictionary[SopEngine, LifecycleService] = weakref.WeakKeyDictionary()


def for_engine(engine: SopEngine) -> LifecycleService:
    """The lifecycle service over an engine's own storage, plans, clock and ids: one per engine, made on first use,
    so SopEngine reaches it without a constructor change and bootstrap shares the same instance (and plan cache)."""
    found = _BY_ENGINE.get(engine)
    if found is None:
        repo = cast(LifecycleRepo, engine.repo)  # DynamoStore and FakeStore implement both protocols
        found = LifecycleService(repo, engine, engine.plans, engine.clock, engine.ids)
        _BY_ENGINE[engine] = found
    return found
