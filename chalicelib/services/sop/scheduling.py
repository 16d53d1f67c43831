"""Scheduling touches for the SOP kernel: buckets, their one schedule, executor hints, and inline firing of buckets
due now. ``SopKernel`` (kernel.py) builds on this and adds the fire.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from chalicelib.domain import fate, timing
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.sop import Bucket, Enrollment, Touch, next_step
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import Clock, SchedulerPort
from chalicelib.services.sop.policy import Policies
from chalicelib.services.sop.repos import KernelRepo
from chalicelib.services.sop.rules import rules_of

MAX_INLINE_ROUNDS = 50


class KernelScheduling:
    """Where touches go and when their bucket fires; ``fire`` is the kernel's."""

    def __init__(self, repo: KernelRepo, scheduler: SchedulerPort, clock: Clock, policies: Policies) -> None:
        self.repo = repo
        self.scheduler = scheduler
        self.clock = clock
        self.policies = policies
        self._inline: set[tuple[str, str]] = set()
        self._firing_inline = False
        self._batch_depth = 0
        self._known_buckets: set[tuple[str, str]] = set()  # bucket items are never deleted, so this stays true
        self._fed: set[tuple[str, str, str]] = set()  # (tenant, bucket, feeder) recorded by this process

    def fire(self, tenant_id: str, bucket_id: str) -> Any:
        raise NotImplementedError

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
                try:
                    tenant_id, bucket_id = self._inline.pop()
                except KeyError:  # a shard running in another thread took the last one
                    return
                self.fire(tenant_id, bucket_id)
        finally:
            self._firing_inline = False

    def start(self, tenant: Tenant, plan: Plan, enrollment: Enrollment, *, state: Any = None) -> Touch:
        """A new enrollment's first touch (fired before the operation returns if due now); ``state``, the subject's
        state if in hand, gives the touch its executor hint."""
        step = plan.steps[0]
        hint = self._hint(enrollment, step, state)
        return self.schedule(tenant, plan, enrollment, step, occurrence=0, executor=hint)

    def _hint(self, enrollment: Enrollment, step: Step, state: Any) -> str | None:
        """Who will likely send the subject's touch of ``step`` (None without the subject's state)."""
        return None if state is None else self.policies[enrollment.subject.kind].executor(step, state)

    def schedule(
        self,
        tenant: Tenant,
        plan: Plan,
        enrollment: Enrollment,
        step: Step,
        *,
        occurrence: int,
        at: datetime | None = None,
        executor: str | None = None,
    ) -> Touch:
        """Put a touch in its bucket; the first touch of a bucket creates the bucket's one schedule. ``executor``
        is the touch's executor hint (domain/shards.py)."""
        due = self._planned(tenant, step, enrollment) if at is None else at
        bucket = self._bucket(tenant, plan, step, due, enrollment.subject.kind)
        touch = Touch(
            bucket_id=bucket.bucket_id,
            subject=enrollment.subject,
            enrollment_id=enrollment.enrollment_id,
            step_id=step.id,
            occurrence=occurrence,
            due_at=iso_of(due, tenant.zone),
            executor=executor,
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
        if enrollment.day0 is not None:  # a group's calendar: day 0 is its cohort's start
            return timing.calendar_due(step, date.fromisoformat(enrollment.day0), rules_of(tenant), tenant.zone).due
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
