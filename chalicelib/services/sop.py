"""The SOP engine: enrollment, timed touches in buckets, the fire handler, staff tasks, exits.

Effectively-once: every touch moves ``scheduled → sent | skipped | dropped | failed`` by a conditional write keyed by
(enrollment, step, occurrence), so a fire that arrives twice or concurrently hands each touch to exactly one staff
task. ``sent`` means "committed to a staff task": the task record carries WeCom's msgid once ``add_msg_template``
answered. ``add_msg_template`` has no idempotency key, so a crash between that call and the task record leaves the
task ``claimed``; the backstop reconciles it from ``get_groupmsg_list_v2`` (adopting the msgid WeCom created) and
only calls again if WeCom has no such task — see docs/operations.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import simulate as simulation
from chalicelib.domain import timing
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.sop import (
    ACTIVE,
    COMPLETED,
    DROPPED,
    EXITED,
    FAILED,
    SCHEDULED,
    SENT,
    SKIPPED,
    Bucket,
    Enrollment,
    StaffTask,
    Touch,
    chunks,
    executor_of,
    next_step,
    order_meets_exit,
    revalidate,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import follow_up_task_id
from chalicelib.errors import InvalidError, NotFoundError, SiyuError
from chalicelib.observability import logger
from chalicelib.ports import (
    Clock,
    IdGenerator,
    Page,
    SchedulerPort,
    Signal,
    SignalPublisher,
    TaskRepository,
    WeComCredentials,
    WeComPort,
)
from chalicelib.services.signals import NoSignals

INLINE_FIRE = timedelta(seconds=60)  # due sooner than this: no schedule; the operation fires it itself
MAX_INLINE_ROUNDS = 50
BACKSTOP_GRACE = timedelta(minutes=5)
BACKSTOP_DAYS = 7  # how far back the backstop looks for open buckets (a schedule lost a week ago still fires)
RECONCILE_AFTER = timedelta(minutes=2)
FIRE_READ_PAGE = 200  # touches whose customers and enrollments are read together (2 BatchGetItem calls of 100)


class PlanSource(Protocol):
    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None: ...
    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None: ...


class SopRepo(TaskRepository, Protocol):
    """What the SOP engine needs from storage (DynamoStore / FakeStore)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None: ...
    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]: ...
    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool: ...
    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool: ...
    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool: ...
    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None: ...
    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None: ...
    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None: ...
    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]: ...
    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None: ...
    def add_touch(self, tenant_id: str, touch: Touch) -> bool: ...
    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]: ...
    def move_touch(
        self,
        tenant_id: str,
        touch: Touch,
        *,
        to_state: str,
        from_state: str,
        task_id: str | None = None,
        reason: str | None = None,
        next_bucket: str | None = None,
        next_due: str | None = None,
    ) -> bool: ...
    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None: ...
    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]: ...
    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool: ...
    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool: ...
    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...
    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]: ...


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


def _creds(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)


def _version_of(task: StaffTask) -> int:
    """The plan version a task's bucket belongs to (bucket ids read ``<plan>.<version>.<step>.<minute>``)."""
    parts = (task.bucket_id or "").split(".")
    return int(parts[1]) if len(parts) >= 4 and parts[1].isdigit() else 0


def _next_month_start(now: datetime, tenant: Tenant, step: Step, rules: TouchRules) -> datetime:
    """Where a touch refused by WeCom's monthly receive limit is deferred to: the next local month's first slot."""
    local = now.astimezone(tenant.zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return timing.next_allowed(following, step.content_type, rules, tenant.zone)[0]


def rules_of(tenant: Tenant) -> TouchRules:
    """The tenant's touch rules (PUT /t/{tenant_id}/settings/touch-rules; the field's defaults until set)."""
    from chalicelib.domain.touch_rules import rules_from_text

    return rules_from_text(tenant.touch_rules)


class SopEngine:
    def __init__(
        self,
        repo: SopRepo,
        plans: PlanSource,
        scheduler: SchedulerPort,
        wecom: WeComPort,
        clock: Clock,
        ids: IdGenerator,
        signals: SignalPublisher | None = None,
    ) -> None:
        self.signals = signals or NoSignals()  # "enrolled" and "stage" (nurturing) when an enrollment starts
        self.repo = repo
        self.plans = plans
        self.scheduler = scheduler
        self.wecom = wecom
        self.clock = clock
        self.ids = ids
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

    # --- enrollment -------------------------------------------------------------------------------------------

    def enroll(self, tenant: Tenant, customer_id: str, plan_id: str, *, source: str = "manual") -> Enrollment | None:
        """Enroll a customer into a published plan's current version (None: refused, and the reason logged; see
        services/enrollments.py, which decides)."""
        from chalicelib.services import enrollments  # it refers back to this module

        result = enrollments.attempt_by_id(self, tenant, customer_id, plan_id, source=source)
        if isinstance(result, Enrollment):
            return result
        if result.reason == "customer_not_found":
            raise NotFoundError(f"customer {customer_id} does not exist", code=result.reason)
        return None

    def enroll_customer(
        self, tenant: Tenant, plan: Plan, customer: Customer, *, source: str = "manual"
    ) -> Enrollment | None:
        """Enroll a customer already read into a plan version already read (a bulk page reads both once)."""
        from chalicelib.services import enrollments

        result = enrollments.attempt(self, tenant, plan, customer, source=source)
        return result if isinstance(result, Enrollment) else None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Enroll many at once: due-now buckets fire once at the end (one task per executor), not per enrollment."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._fire_inline()

    def _fire_inline(self) -> None:
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
        zone = tenant.zone
        due = self._planned(tenant, step, enrollment) if at is None else at
        bucket = Bucket(tenant.tenant_id, plan.plan_id, plan.version, step.id, timing.minute_bucket(due))
        touch = Touch(
            bucket_id=bucket.bucket_id,
            customer_id=enrollment.customer_id,
            enrollment_id=enrollment.enrollment_id,
            step_id=step.id,
            occurrence=occurrence,
            due_at=iso_of(due, zone),
        )
        self.repo.add_touch(tenant.tenant_id, touch)
        self._place(tenant, bucket, due)
        return touch

    def _place(self, tenant: Tenant, bucket: Bucket, due: datetime) -> None:
        """Make sure a bucket that holds a touch will fire: registered with its one schedule, or, when due now,
        put where the backstop looks and fired by this operation before it returns."""
        zone = tenant.zone
        # A bucket this process registered before needs no second (failing, yet billed) conditional put.
        known = (tenant.tenant_id, bucket.bucket_id) in self._known_buckets
        first = False if known else self.repo.register_bucket(tenant.tenant_id, bucket)
        self._known_buckets.add((tenant.tenant_id, bucket.bucket_id))
        if due - self.clock.now() <= INLINE_FIRE:
            # Due now: no schedule (an at() in the past is not worth the risk). The bucket goes where the backstop
            # looks, and the operation that queued it fires it before returning (see _fire_inline).
            self.repo.reopen_bucket(tenant.tenant_id, bucket)
            self._inline.add((tenant.tenant_id, bucket.bucket_id))
        elif first:
            expression, tz = timing.schedule_at(due, zone)
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
        return Bucket(tenant.tenant_id, plan.plan_id, plan.version, following.id, timing.minute_bucket(due)), due

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
        """Fire one bucket: re-validate every due touch, apply the rules, one task per executor, schedule next."""
        tenant = self._tenant(tenant_id)
        report = FireReport(bucket_id)
        bucket = self.repo.get_bucket(tenant_id, bucket_id)
        if bucket is None:
            return report
        plan = self.plans.plan_version(tenant_id, bucket.plan_id, bucket.version)
        step = plan.step(bucket.step_id) if plan else None
        now = self.clock.now()
        groups: dict[str, list[tuple[Touch, Customer, Enrollment]]] = defaultdict(list)
        keep_open = False
        plan_cache: dict[tuple[str, int], Plan | None] = {}
        for touch, customer, enrollment in self._with_state(tenant_id, bucket.plan_id, bucket_id):
            reason = revalidate(plan=plan, enrollment=enrollment, customer=customer, touch=touch, step=step)
            if reason is not None:
                self._close(tenant, touch, SKIPPED, reason, report)
                if enrollment is not None and reason.startswith("exit:") and enrollment.status == ACTIVE:
                    self.repo.end_enrollment(
                        tenant_id, enrollment, status=EXITED, reason=reason, at=iso_of(now, tenant.zone)
                    )
                continue
            assert plan is not None and step is not None and customer is not None and enrollment is not None
            decision = timing.on_fire(datetime.fromisoformat(touch.due_at), now, step, rules_of(tenant), tenant.zone)
            if decision.action == "skip":
                self._close(tenant, touch, SKIPPED, decision.reason, report)
                self._advance(tenant, plan, enrollment, step)
                continue
            if decision.action == "move" and decision.due is not None:
                if timing.minute_bucket(decision.due) == bucket.minute:
                    keep_open = True  # fired early: the touch stays, the backstop fires the bucket when due
                    continue
                if self._close(tenant, touch, SKIPPED, f"moved:{decision.reason}", report):
                    self.schedule(tenant, plan, enrollment, step, occurrence=touch.occurrence + 1, at=decision.due)
                    self._advance(tenant, plan, enrollment, step, complete=False)
                    report.count("moved", None)
                continue
            rules = rules_of(tenant)
            day_cap = rules.daily_caps.get(step.content_type)
            local_day = timing.local_day(now, tenant.zone)
            refused: str | None = None
            if day_cap is not None and self._outranked(tenant, customer.customer_id, plan, step, now, plan_cache):
                refused = "cap"  # a higher-priority plan has this customer's capped touch later today
            if refused is None:
                refused = self.repo.take_quota(
                    tenant_id,
                    customer.customer_id,
                    month=local_day[:7],
                    day_key=f"{local_day}#{step.content_type}" if day_cap is not None else None,
                    day_cap=day_cap,
                    month_cap=timing.monthly_limit(rules, now, tenant.zone),
                    touch=touch,  # the same write records the sent touch on the customer's timeline
                    last=next_step(plan, step.id) is None,
                )
            if refused is not None:
                if step.on_cap == "defer":
                    if self._close(tenant, touch, SKIPPED, f"moved:{refused}", report):
                        later = (
                            timing.next_day_start(now, tenant.zone, step.content_type, rules)
                            if refused == "cap"
                            else _next_month_start(now, tenant, step, rules)
                        )
                        self.schedule(tenant, plan, enrollment, step, occurrence=touch.occurrence + 1, at=later)
                        self._advance(tenant, plan, enrollment, step, complete=False)
                        report.count("moved", None)
                else:
                    self._close(tenant, touch, DROPPED, refused, report)
                    self._advance(tenant, plan, enrollment, step)
                continue
            groups[executor_of(step, customer)].append((touch, customer, enrollment))
        if plan is not None and step is not None:
            for executor, members in sorted(groups.items()):
                self._task(tenant, plan, step, bucket, executor, members, report)
        if not keep_open:
            self.repo.drain_bucket(tenant_id, bucket_id)
        self._fire_inline()
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

    def _with_state(
        self, tenant_id: str, plan_id: str, bucket_id: str
    ) -> Iterator[tuple[Touch, Customer | None, Enrollment | None]]:
        """The bucket's scheduled touches with their customer and enrollment, read a page at a time (two batched
        reads per page rather than two per touch; a page is judged right after it is read)."""
        touches = self.repo.touches_in(tenant_id, bucket_id)
        for i in range(0, len(touches), FIRE_READ_PAGE):
            page = touches[i : i + FIRE_READ_PAGE]
            ids = list(dict.fromkeys(t.customer_id for t in page))
            customers = self.repo.get_customers(tenant_id, ids)
            enrollments = self.repo.get_enrollments(tenant_id, ids, plan_id)
            for touch in page:
                yield touch, customers.get(touch.customer_id), enrollments.get(touch.customer_id)

    def _outranked(
        self,
        tenant: Tenant,
        customer_id: str,
        plan: Plan,
        step: Step,
        now: datetime,
        cache: dict[tuple[str, int], Plan | None],
    ) -> bool:
        """Whether another active plan of higher priority has a touch of the same capped content type due later
        today for this customer: the daily cap is kept for it (higher priority wins; this touch yields)."""
        today = timing.local_day(now, tenant.zone)
        for other in self.repo.enrollments_of(tenant.tenant_id, customer_id):
            if other.status != ACTIVE or other.plan_id == plan.plan_id:
                continue
            key = (other.plan_id, other.version)
            if key not in cache:
                cache[key] = self.plans.plan_version(tenant.tenant_id, other.plan_id, other.version)
            rival = cache[key]
            if rival is None or rival.priority <= plan.priority or rival.status != PlanStatus.PUBLISHED:
                continue
            enrolled = datetime.fromisoformat(other.enrolled_at)
            for s in rival.steps:
                if s.content_type != step.content_type:
                    continue
                due = timing.due_at(s, enrolled, rules_of(tenant), tenant.zone).due
                if due > now and timing.local_day(due, tenant.zone) == today:
                    return True
        return False

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
            self.repo.end_enrollment(
                tenant.tenant_id,
                enrollment,
                status=COMPLETED,
                reason="completed",
                at=iso_of(self.clock.now(), tenant.zone),
            )
        else:
            self.schedule(tenant, plan, enrollment, following, occurrence=0)

    def _task(
        self,
        tenant: Tenant,
        plan: Plan,
        step: Step,
        bucket: Bucket,
        executor: str,
        members: list[tuple[Touch, Customer, Enrollment]],
        report: FireReport,
    ) -> None:
        """One confirm-to-send task per executor (split above WeCom's 10,000 recipients).

        The task record is written *before* its touches are claimed, so a crash at any point leaves either nothing
        claimed or a ``claimed`` task the backstop can reconcile; a claimed touch never points at no task."""
        members.sort(key=lambda m: m[0].key)
        for part in chunks([m[0].key for m in members]):
            wanted = set(part)
            chunk = [m for m in members if m[0].key in wanted]
            task = StaffTask(
                task_id=self.ids.new_id("tk_"),
                userid=executor,
                kind="mass",
                status="claimed",
                due_at=chunk[0][0].due_at,
                created_at=iso_of(self.clock.now(), tenant.zone),
                customer_ids=tuple(m[1].customer_id for m in chunk),
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
                empty = replace(task, status="empty", customer_ids=())
                self.repo.save_task(tenant.tenant_id, empty, expected_status="claimed", recipients=True)
                continue
            if len(claimed) != len(chunk):  # a concurrent fire took some: this task carries only ours
                task = replace(task, customer_ids=tuple(m[1].customer_id for m in claimed))
                self.repo.save_task(tenant.tenant_id, task, expected_status="claimed", recipients=True)
            self._send(tenant, task, [m[1] for m in claimed], step)
            report.tasks += 1
            for touch, _customer, enrollment in claimed:
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

    def _send(self, tenant: Tenant, task: StaffTask, customers: list[Customer], step: Step) -> None:
        try:
            result = self.wecom.add_msg_template(
                _creds(tenant),
                sender=task.userid,
                external_userids=[c.external_userid for c in customers],
                message=step.message,
            )
        except SiyuError as exc:
            failed = replace(task, status=FAILED, reason=exc.code)
            self.repo.save_task(tenant.tenant_id, failed, expected_status="claimed")
            logger.warning("add_msg_template failed", extra={"code": exc.code, "task": task.task_id})
            return
        self._created(tenant, task, result.msgid, len(result.fail_list))

    def _created(self, tenant: Tenant, task: StaffTask, msgid: str, failed: int) -> None:
        created = replace(task, status="created", msgid=msgid, results={"fail_list": failed})
        self.repo.save_task(tenant.tenant_id, created, expected_status="claimed")

    def reconcile(self, tenant_id: str) -> int:
        """Tasks left ``claimed`` by a crash around ``add_msg_template``: adopt the msgid WeCom created (same
        sender, same text, created after the claim), or send now if WeCom has none. Returns tasks settled."""
        tenant = self._tenant(tenant_id)
        now = self.clock.now()
        settled = 0
        for task in self.repo.list_tasks(
            tenant_id, userid=None, status="claimed", due_from=None, due_to=None, limit=500
        ):
            claimed_at = datetime.fromisoformat(task.created_at)
            if now - claimed_at < RECONCILE_AFTER:
                continue  # may still be in flight
            page = self.wecom.get_groupmsg_list(
                _creds(tenant),
                start_time=int(claimed_at.timestamp()) - 60,
                end_time=int(now.timestamp()),
                creator=task.userid,
            )
            found = next(
                (m for m in page.get("group_msg_list", []) if (m.get("text") or {}).get("content", "") == task.text),
                None,
            )
            if found is not None:
                self._created(tenant, task, str(found["msgid"]), 0)
            else:
                plan = self.plans.plan_version(tenant_id, task.plan_id or "", _version_of(task))
                step = plan.step(task.step_id or "") if plan else None
                customers = [c for c in (self.repo.get_customer(tenant_id, cid) for cid in task.customer_ids) if c]
                if step is None or not customers:
                    self.repo.save_task(
                        tenant_id, replace(task, status=FAILED, reason="unrecoverable"), expected_status="claimed"
                    )
                    continue
                self._send(tenant, task, customers, step)
            settled += 1
        return settled

    # --- simulation -------------------------------------------------------------------------------------------

    def simulate(self, tenant: Tenant, plan_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Preview paths: the same timing code as the fire handler, on a virtual clock; no WeCom call, no write."""
        version = request.get("version")
        plan = (
            self.plans.plan_version(tenant.tenant_id, plan_id, version)
            if version
            else self.plans.current_plan(tenant.tenant_id, plan_id)
        )
        if plan is None:
            raise NotFoundError(f"plan {plan_id} does not exist")
        try:
            cohort = simulation.cohort_from_json(request["cohort"], tenant.zone)
            touches = simulation.simulate(plan, rules_of(tenant), tenant.zone, cohort, request["days"])
        except ValueError as exc:
            raise InvalidError(str(exc)) from exc
        return simulation.to_json(touches, tenant.zone)

    # --- backstop ---------------------------------------------------------------------------------------------

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

    # --- signals (EnrollmentSignals) --------------------------------------------------------------------------

    def on_signal(self, tenant_id: str, customer_id: str, signal: Signal) -> list[str]:
        """An order or a negative reply ends the enrollments whose exit rules it meets (the bus delivers these two
        signals here first, before the silence timers and the triggers hear them). Returns the plans exited."""
        tenant = self._tenant(tenant_id)
        exited = []
        for enrollment in self.repo.enrollments_of(tenant_id, customer_id):
            if enrollment.status != ACTIVE:
                continue
            plan = self.plans.plan_version(tenant_id, enrollment.plan_id, enrollment.version)
            if plan is None:
                continue
            for rule in plan.exits:
                ordered = signal.type == "order" and order_meets_exit(rule.kind, signal.kind)
                hit = (rule.type == "order" and ordered) or (
                    rule.type == "negative_reply" and signal.type == "reply" and signal.kind == "negative"
                )
                if hit:
                    reason = f"exit:{rule.type}:{signal.kind or 'any'}"
                    if self.repo.end_enrollment(
                        tenant_id, enrollment, status=EXITED, reason=reason, at=iso_of(signal.at, tenant.zone)
                    ):
                        exited.append(enrollment.plan_id)
                    break
        return exited

    # --- staff tasks (TaskSink and the API) -------------------------------------------------------------------

    def follow_up(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        owner_userid: str,
        reason: str,
        text: str,
        due: datetime,
        dedupe_key: str,
    ) -> str:
        tenant = self._tenant(tenant_id)
        task_id = follow_up_task_id(dedupe_key)  # the timeline finds the task from the reply it follows
        self.repo.create_task(
            tenant_id,
            StaffTask(
                task_id=task_id,
                userid=owner_userid,
                kind="follow_up",
                status="created",
                due_at=iso_of(due, tenant.zone),
                created_at=iso_of(self.clock.now(), tenant.zone),
                customer_ids=(customer_id,),
                text=text,
                reason=reason,
            ),
        )
        return task_id

    def tasks(self, tenant_id: str, **filters: Any) -> list[StaffTask]:
        return self.repo.list_tasks(tenant_id, **filters)

    def task_page(self, tenant_id: str, **filters: Any) -> Page:
        """One page of tasks for the API; ``cursor`` is the previous page's ``next_cursor``."""
        return self.repo.page_tasks(tenant_id, **filters)

    def confirm(self, tenant_id: str, task_id: str, *, userid: str | None, proof_url: str | None) -> StaffTask:
        """Staff confirm a task by hand (optionally with a proof screenshot URL)."""
        task = self._owned_task(tenant_id, task_id, userid)
        done = replace(task, status="confirmed", proof_url=proof_url or task.proof_url)
        if not self.repo.save_task(tenant_id, done, expected_status=task.status):
            raise NotFoundError(f"task {task_id} changed; reload it")
        return done

    def snooze(self, tenant_id: str, task_id: str, *, userid: str | None, minutes: int) -> StaffTask:
        task = self._owned_task(tenant_id, task_id, userid)
        tenant = self._tenant(tenant_id)
        until = iso_of(self.clock.now() + timedelta(minutes=minutes), tenant.zone)
        snoozed = replace(task, snoozed_until=until, due_at=until)
        if not self.repo.save_task(tenant_id, snoozed, expected_status=task.status):
            raise NotFoundError(f"task {task_id} changed; reload it")
        return snoozed

    def task(self, tenant_id: str, task_id: str, *, userid: str | None) -> StaffTask:
        """One task; a staff member (``userid``) sees only their own."""
        return self._owned_task(tenant_id, task_id, userid)

    def _owned_task(self, tenant_id: str, task_id: str, userid: str | None) -> StaffTask:
        task = self.repo.get_task(tenant_id, task_id)
        if task is None or (userid is not None and task.userid != userid):
            raise NotFoundError(f"task {task_id} does not exist")
        return task
