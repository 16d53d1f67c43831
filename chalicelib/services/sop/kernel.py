"""The SOP kernel: timed touches in buckets, the fire, staff tasks per executor, reconciliation and the backstop —
the same for every subject kind (a subject policy, policy.py, supplies what differs).

Effectively-once: every touch moves ``scheduled → sent | skipped | dropped | failed`` by a conditional write keyed by
(subject, enrollment, step, occurrence), so a fire that arrives twice or concurrently hands each touch to exactly one
staff task. ``sent`` means "committed to a staff task": the task record carries WeCom's msgid once
``add_msg_template`` answered. ``add_msg_template`` has no idempotency key, so a crash between that call and the task
record leaves the task ``claimed``; the backstop reconciles it from ``get_groupmsg_list_v2`` (adopting the msgid
WeCom created) and only calls again if WeCom has no such task — see docs/operations.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import fate, timing
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.sop import (
    COMPLETED,
    DROPPED,
    EXITED,
    SCHEDULED,
    SENT,
    SKIPPED,
    Bucket,
    Enrollment,
    StaffTask,
    Touch,
    chunks,
    next_step,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.observability import logger
from chalicelib.ports import Clock, IdGenerator, SchedulerPort, WeComPort
from chalicelib.services.sop.delivery import TaskDelivery
from chalicelib.services.sop.policy import DROP, MOVE, SEND, SKIP, FireContext, Policies, SubjectPolicy, Verdict
from chalicelib.services.sop.repos import KernelRepo
from chalicelib.services.sop.rules import PlanSource, rules_of

MAX_INLINE_ROUNDS = 50
BACKSTOP_DAYS = 7  # how far back the backstop looks for open buckets (a schedule lost a week ago still fires)
FIRE_READ_PAGE = 200  # touches whose subjects and enrollments are read together (2 BatchGetItem calls of 100)

Member = tuple[Touch, Any, Enrollment]  # a touch to send, its subject's state, its enrollment


@dataclass
class FireReport:
    bucket_id: str
    sent: int = 0
    skipped: int = 0
    dropped: int = 0
    moved: int = 0
    failed: int = 0
    tasks: int = 0
    reasons: dict[str, int] | None = None

    def count(self, outcome: str, reason: str | None) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if reason:
            self.reasons = self.reasons or {}
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


class SopKernel:
    def __init__(
        self,
        repo: KernelRepo,
        plans: PlanSource,
        scheduler: SchedulerPort,
        wecom: WeComPort,
        clock: Clock,
        ids: IdGenerator,
        policies: Policies,
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.scheduler = scheduler
        self.clock = clock
        self.ids = ids
        self.policies = policies
        self.delivery = TaskDelivery(repo, plans, wecom, clock, policies)
        self._inline: set[tuple[str, str]] = set()
        self._firing_inline = False
        self._batch_depth = 0
        self._known_buckets: set[tuple[str, str]] = set()  # bucket items are never deleted, so this stays true
        self._fed: set[tuple[str, str, str]] = set()  # (tenant, bucket, feeder) recorded by this process

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

    # --- scheduling -------------------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Enroll many at once: due-now buckets fire once at the end (one task per executor), not per enrollment."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self.fire_inline()

    def fire_inline(self) -> None:
        """Fire the buckets queued as due-now during this operation (bounded: a chain of 0-minute steps)."""
        if self._firing_inline or self._batch_depth:
            return  # the outer call drains them
        self._firing_inline = True
        try:
            for _ in range(MAX_INLINE_ROUNDS):
                if not self._inline:
                    return
                tenant_id, bucket_id = self._inline.pop()
                self.fire(tenant_id, bucket_id)
        finally:
            self._firing_inline = False

    def start(self, tenant: Tenant, plan: Plan, enrollment: Enrollment) -> Touch:
        """A new enrollment's first touch (fired before the operation returns if due now)."""
        return self.schedule(tenant, plan, enrollment, plan.steps[0], occurrence=0)

    def schedule(
        self,
        tenant: Tenant,
        plan: Plan,
        enrollment: Enrollment,
        step: Step,
        *,
        occurrence: int,
        at: datetime | None = None,
    ) -> Touch:
        """Put a touch in its bucket; the first touch of a bucket creates the bucket's one schedule."""
        due = self._planned(tenant, step, enrollment) if at is None else at
        bucket = self._bucket(tenant, plan, step, due, enrollment.subject.kind)
        touch = Touch(
            bucket_id=bucket.bucket_id,
            subject=enrollment.subject,
            enrollment_id=enrollment.enrollment_id,
            step_id=step.id,
            occurrence=occurrence,
            due_at=iso_of(due, tenant.zone),
        )
        self.repo.add_touch(tenant.tenant_id, touch)
        self._place(tenant, bucket, due)
        return touch

    @staticmethod
    def _bucket(tenant: Tenant, plan: Plan, step: Step, due: datetime, kind: str) -> Bucket:
        return Bucket(tenant.tenant_id, plan.plan_id, plan.version, step.id, timing.minute_bucket(due), kind)

    def _place(self, tenant: Tenant, bucket: Bucket, due: datetime) -> None:
        """Make sure a bucket that holds a touch will fire: registered with its one schedule, or, when due now,
        put where the backstop looks and fired by this operation before it returns."""
        # A bucket this process registered before needs no second (failing, yet billed) conditional put.
        known = (tenant.tenant_id, bucket.bucket_id) in self._known_buckets
        first = False if known else self.repo.register_bucket(tenant.tenant_id, bucket)
        self._known_buckets.add((tenant.tenant_id, bucket.bucket_id))
        if due - self.clock.now() <= fate.INLINE_FIRE:  # no schedule: the operation fires it itself
            # Due now: no schedule (an at() in the past is not worth the risk). The bucket goes where the backstop
            # looks, and the operation that queued it fires it before returning (see fire_inline).
            self.repo.reopen_bucket(tenant.tenant_id, bucket)
            self._inline.add((tenant.tenant_id, bucket.bucket_id))
        elif first:
            expression, tz = timing.schedule_at(due, tenant.zone)
            self.scheduler.schedule(
                name=bucket.schedule_name,
                expression=expression,
                timezone=tz,
                payload={"tenant_id": tenant.tenant_id, "bucket_id": bucket.bucket_id},
            )

    def _next_of(
        self, tenant: Tenant, plan: Plan, enrollment: Enrollment, step: Step
    ) -> tuple[Bucket, datetime] | None:
        """The bucket and due time of the enrollment's next step (its time counts from the enrollment, so a step
        that moved never delays the next one), or None after the last step."""
        following = next_step(plan, step.id)
        if following is None:
            return None
        due = self._planned(tenant, following, enrollment)
        return self._bucket(tenant, plan, following, due, enrollment.subject.kind), due

    @staticmethod
    def _planned(tenant: Tenant, step: Step, enrollment: Enrollment) -> datetime:
        """A step's due time for an enrollment: counted from the enrollment, with the tenant's rules applied."""
        enrolled = datetime.fromisoformat(enrollment.enrolled_at)
        return timing.due_at(step, enrolled, rules_of(tenant), tenant.zone).due

    def _feed(self, tenant: Tenant, bucket: Bucket, due: datetime, feeder: Bucket) -> None:
        """Ready a bucket for the touches that sent touches of ``feeder`` will imply in it (see ``Touch``). Done
        *before* the claims that name it, so a crash in between loses nothing."""
        self._place(tenant, bucket, due)
        fed = (tenant.tenant_id, bucket.bucket_id, feeder.bucket_id)
        if fed not in self._fed:  # feeders only grow, so once per process is enough
            self.repo.feed_bucket(tenant.tenant_id, bucket.bucket_id, feeder=feeder.bucket_id)
            self._fed.add(fed)

    # --- firing -----------------------------------------------------------------------------------------------

    def fire(self, tenant_id: str, bucket_id: str) -> FireReport:
        """Fire one bucket: the policy judges every due touch; one task per executor; the next steps follow."""
        tenant = self._tenant(tenant_id)
        report = FireReport(bucket_id)
        bucket = self.repo.get_bucket(tenant_id, bucket_id)
        if bucket is None:
            return report
        policy = self.policies[bucket.kind]
        plan = self.plans.plan_version(tenant_id, bucket.plan_id, bucket.version)
        step = plan.step(bucket.step_id) if plan else None
        ctx = FireContext(tenant, bucket, plan, step, self.clock.now(), rules_of(tenant))
        groups: dict[str, list[Member]] = defaultdict(list)
        keep_open = False
        for touch, state, enrollment in self._with_state(policy, tenant_id, bucket):
            verdict = policy.judge(ctx, touch, state, enrollment)
            if verdict.action == SEND:
                assert step is not None and enrollment is not None
                groups[policy.executor(step, state)].append((touch, state, enrollment))
            elif not self._apply(ctx, touch, enrollment, verdict, report):
                keep_open = True
        if plan is not None and step is not None:
            for executor, members in sorted(groups.items()):
                self._task(ctx, policy, plan, step, executor, members, report)
        if not keep_open:
            self.repo.drain_bucket(tenant_id, bucket_id)
        self.fire_inline()
        logger.info(
            "bucket fired",
            extra={
                "tenant": tenant_id,
                "bucket": bucket_id,
                "sent": report.sent,
                "skipped": report.skipped,
                "tasks": report.tasks,
            },
        )
        return report

    def _apply(
        self, ctx: FireContext, touch: Touch, enrollment: Enrollment | None, verdict: Verdict, report: FireReport
    ) -> bool:
        """Carry out a verdict other than SEND; False for WAIT (the touch stays, so does the bucket)."""
        tenant, plan, step = ctx.tenant, ctx.plan, ctx.step
        if verdict.action == SKIP:
            self._close(tenant, touch, SKIPPED, verdict.reason, report)
            if verdict.exit and enrollment is not None:
                at = iso_of(ctx.now, tenant.zone)
                reason = verdict.reason or "exit"
                self.repo.end_enrollment(tenant.tenant_id, enrollment, status=EXITED, reason=reason, at=at)
            elif verdict.advance and plan is not None and step is not None and enrollment is not None:
                self._advance(tenant, plan, enrollment, step)
            return True
        if verdict.action == DROP:
            self._close(tenant, touch, DROPPED, verdict.reason, report)
            if plan is not None and step is not None and enrollment is not None:
                self._advance(tenant, plan, enrollment, step)
            return True
        if verdict.action == MOVE:
            assert plan is not None and step is not None and enrollment is not None and verdict.at is not None
            if self._close(tenant, touch, SKIPPED, verdict.reason, report):
                self.schedule(tenant, plan, enrollment, step, occurrence=touch.occurrence + 1, at=verdict.at)
                self._advance(tenant, plan, enrollment, step, complete=False)
                report.count("moved", None)
            return True
        return False  # WAIT

    def _with_state(
        self, policy: SubjectPolicy[Any], tenant_id: str, bucket: Bucket
    ) -> Iterator[tuple[Touch, Any, Enrollment | None]]:
        """The bucket's scheduled touches with their subject's state and enrollment, read a page at a time (two
        batched reads per page rather than two per touch; a page is judged right after it is read)."""
        touches = self.repo.touches_in(tenant_id, bucket.bucket_id)
        for i in range(0, len(touches), FIRE_READ_PAGE):
            page = touches[i : i + FIRE_READ_PAGE]
            loaded = policy.load(tenant_id, bucket.plan_id, list(dict.fromkeys(t.subject for t in page)))
            for touch in page:
                yield touch, loaded.states.get(touch.subject), loaded.enrollments.get(touch.subject)

    def _close(self, tenant: Tenant, touch: Touch, state: str, reason: str | None, report: FireReport) -> bool:
        won = self.repo.move_touch(tenant.tenant_id, touch, to_state=state, from_state=SCHEDULED, reason=reason)
        if won:
            report.count(state, reason)
        return won

    def _advance(
        self, tenant: Tenant, plan: Plan, enrollment: Enrollment, step: Step, *, complete: bool = True
    ) -> None:
        """Schedule the enrollment's next step (its time counts from the enrollment, so a step moved later never
        delays the next one; queuing it twice is a no-op), or complete the enrollment after the last one."""
        following = next_step(plan, step.id)
        if following is None and not complete:
            return
        if following is None:
            at = iso_of(self.clock.now(), tenant.zone)
            self.repo.end_enrollment(tenant.tenant_id, enrollment, status=COMPLETED, reason="completed", at=at)
        else:
            self.schedule(tenant, plan, enrollment, following, occurrence=0)

    def _task(
        self,
        ctx: FireContext,
        policy: SubjectPolicy[Any],
        plan: Plan,
        step: Step,
        executor: str,
        members: list[Member],
        report: FireReport,
    ) -> None:
        """One confirm-to-send task per executor (split above the policy's recipient limit).

        The task record is written *before* its touches are claimed, so a crash at any point leaves either nothing
        claimed or a ``claimed`` task the backstop can reconcile; a claimed touch never points at no task."""
        tenant, bucket = ctx.tenant, ctx.bucket
        members.sort(key=lambda m: m[0].key)
        for part in chunks([m[0].key for m in members], policy.recipient_limit):
            wanted = set(part)
            chunk = [m for m in members if m[0].key in wanted]
            task = StaffTask(
                task_id=self.ids.new_id("tk_"),
                userid=executor,
                kind="mass",
                status="claimed",
                due_at=chunk[0][0].due_at,
                created_at=iso_of(self.clock.now(), tenant.zone),
                recipients=tuple(m[0].subject.id for m in chunk),
                recipient_kind=policy.kind,
                text=step.message.text,
                notes=step.notes,
                plan_id=plan.plan_id,
                step_id=step.id,
                bucket_id=bucket.bucket_id,
            )
            # Each claim names the enrollment's next touch in the same write (no write of its own to queue it).
            nexts = {m[0].key: self._next_of(tenant, plan, m[2], step) for m in chunk}
            for following, due in {n[0].bucket_id: n for n in nexts.values() if n}.values():
                self._feed(tenant, following, due, bucket)
            self.repo.create_task(tenant.tenant_id, task)
            claimed = [m for m in chunk if self._claim(tenant, m[0], task.task_id, nexts[m[0].key])]
            if not claimed:  # concurrent fires took them all: an empty task, carrying no one
                empty = replace(task, status="empty", recipients=())
                self.repo.save_task(tenant.tenant_id, empty, expected_status="claimed", recipients=True)
                continue
            if len(claimed) != len(chunk):  # a concurrent fire took some: this task carries only ours
                task = replace(task, recipients=tuple(m[0].subject.id for m in claimed))
                self.repo.save_task(tenant.tenant_id, task, expected_status="claimed", recipients=True)
            self.delivery.deliver(tenant, policy, task, [m[1] for m in claimed], step)
            report.tasks += 1
            for touch, _state, enrollment in claimed:
                report.count("sent", None)
                if nexts[touch.key] is None:  # the last step: the claim implied nothing, the enrollment ends
                    self._advance(tenant, plan, enrollment, step)

    def _claim(self, tenant: Tenant, touch: Touch, task_id: str, following: tuple[Bucket, datetime] | None) -> bool:
        """scheduled → sent for this task, naming the next touch if there is one; False if another fire won."""
        return self.repo.move_touch(
            tenant.tenant_id,
            touch,
            to_state=SENT,
            from_state=SCHEDULED,
            task_id=task_id,
            next_bucket=following[0].bucket_id if following else None,
            next_due=iso_of(following[1], tenant.zone) if following else None,
        )

    # --- after a crash ----------------------------------------------------------------------------------------

    def reconcile(self, tenant_id: str) -> int:
        """Tasks left ``claimed`` by a crash around ``add_msg_template`` (see delivery.py). Returns tasks settled."""
        return self.delivery.reconcile(self._tenant(tenant_id))

    def backstop(self, tenant_id: str) -> list[FireReport]:
        """Fire every bucket still open past its minute (lost schedules, late joiners) of the last week, and
        reconcile tasks a crash left between claim and WeCom."""
        self.reconcile(tenant_id)
        now = self.clock.now()
        cutoff = timing.minute_bucket(now)
        reports = []
        days = {timing.minute_bucket(now - timedelta(days=n))[:8] for n in range(BACKSTOP_DAYS + 1)}
        for day in sorted(days):
            for bucket in self.repo.open_buckets(tenant_id, day=day, until_minute=cutoff):
                reports.append(self.fire(tenant_id, bucket.bucket_id))
        return reports
