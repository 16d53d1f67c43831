"""The SOP kernel: timed touches in buckets, the fire, staff tasks per executor, reconciliation and the backstop —
the same for every subject kind (a subject policy, policy.py, supplies what differs).

Effectively-once: every touch moves ``scheduled → sent | skipped | dropped`` (and ``sent → failed``) by a conditional
write keyed by (subject, enrollment, step, occurrence), so a fire that arrives twice or concurrently hands each touch
to exactly one staff task; a lease keeps a twin fire of the same bucket (or shard) from judging it at all. ``sent``
means "claimed by a staff task": the task carries WeCom's msgid once ``add_msg_template`` answered, or is
``retrying`` after a transient error, or ``failed`` for good with its touches. Delivery, retries and the
reconciliation of a task a crash left ``claimed`` are delivery.py's — see docs/operations.md, "Crash-safe delivery".

Scheduling (buckets, their schedule, executor hints, inline firing) is scheduling.py's, which the kernel builds on. A
bucket larger than one shard fans out (fanout.py): the fire dispatches shards and each fires only its own touches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from chalicelib.domain import retries, timing
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.shards import Shard
from chalicelib.domain.signals import EXITED as EXITED_SIGNAL
from chalicelib.domain.signals import TOUCH_SKIPPED, TOUCHES_DELIVERED, Signal
from chalicelib.domain.sop import (
    COMPLETED,
    DROPPED,
    EXITED,
    FAILED,
    RETRYING,
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
from chalicelib.observability import count, logger, seconds
from chalicelib.ports import Clock, IdGenerator, SchedulerPort, SignalPublisher, WeComPort
from chalicelib.services.signals import NoSignals
from chalicelib.services.sop.content import CONTENT_DELETED, MessageLibrary, sendable
from chalicelib.services.sop.delivery import CREATED, Delivered, TaskDelivery
from chalicelib.services.sop.fanout import FanOut
from chalicelib.services.sop.moments import MOMENT_TASK
from chalicelib.services.sop.policy import DROP, MOVE, SEND, SKIP, FireContext, Policies, SubjectPolicy, Verdict
from chalicelib.services.sop.repos import KernelRepo
from chalicelib.services.sop.rules import PlanSource, rules_of
from chalicelib.services.sop.scheduling import KernelScheduling

BACKSTOP_DAYS = 7  # how far back the backstop looks for open buckets (a schedule lost a week ago still fires)
FIRE_LEASE = timedelta(minutes=5)  # a fire's lease on its bucket: the fire Lambda's timeout (it has died by then)
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
    retrying: int = 0  # claimed by a task that met a transient WeCom error: neither sent nor failed yet
    leased: bool = True  # False: another fire holds the bucket (or this shard of it), this one did nothing
    shards: int = 0  # a coordinator that fanned out: how many shards it dispatched (it fired none itself)
    reasons: dict[str, int] | None = None

    def count(self, outcome: str, reason: str | None) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if reason:
            self.reasons = self.reasons or {}
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


class SopKernel(KernelScheduling):
    def __init__(
        self,
        repo: KernelRepo,
        plans: PlanSource,
        scheduler: SchedulerPort,
        wecom: WeComPort,
        clock: Clock,
        ids: IdGenerator,
        policies: Policies,
        fanout: FanOut | None = None,
        signals: SignalPublisher | None = None,
        library: MessageLibrary | None = None,
    ) -> None:
        super().__init__(repo, scheduler, clock, policies)
        self.fanout = fanout or FanOut()
        self.signals: SignalPublisher = signals or NoSignals()  # touch_sent, touch_skipped, exited
        self.plans = plans
        self.ids = ids
        self.delivery = TaskDelivery(repo, plans, wecom, clock, policies, ids, self.signals, scheduler, library)

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

    # --- firing -----------------------------------------------------------------------------------------------

    def fire(self, tenant_id: str, bucket_id: str, *, shard: Shard | None = None, backstop: bool = False) -> FireReport:
        """Fire one bucket: the policy judges every due touch; one task per executor; the next steps follow.

        A bucket larger than one shard is split and dispatched instead (fanout.py), and stays open; ``shard``: fire
        only that shard's touches still scheduled (the bucket is then left open for the backstop to drain);
        ``backstop``: leave a large bucket alone while its own shards may still be running (FanOut.settling)."""
        tenant = self._tenant(tenant_id)
        report = FireReport(bucket_id)
        bucket = self.repo.get_bucket(tenant_id, bucket_id)
        if bucket is None:
            return report
        if not backstop:  # the Scheduler's (or a shard's) start after the bucket's minute; the backstop's are caught
            due = datetime.strptime(bucket.minute, "%Y%m%d%H%M").replace(tzinfo=UTC)
            seconds("ShardLatenessSeconds", (self.clock.now() - due).total_seconds())
        if shard is None:
            touches = self.repo.touches_in(tenant_id, bucket_id)
            if backstop and self.fanout.settling(bucket.minute, self.clock.now(), len(touches)):
                return report
            report.shards = len(self.fanout.split(tenant_id, bucket_id, touches))
            if report.shards:
                return report
        else:
            touches = self.repo.still_scheduled(tenant_id, bucket_id, list(shard.touches))
        # One fire claims a bucket's touches (a shard's, when split) at a time: a twin waits for the backstop.
        lease, owner = f"fire#{bucket_id}" + (f"#{shard.index}" if shard else ""), self.ids.new_id("ls_")
        if touches and not self.repo.take_lease(tenant_id, lease, owner, now=self.clock.now(), hold=FIRE_LEASE):
            report.leased = False
            return report
        policy = self.policies[bucket.kind]
        plan = self.plans.plan_version(tenant_id, bucket.plan_id, bucket.version)
        step = plan.step(bucket.step_id) if plan else None
        ctx = FireContext(tenant, bucket, plan, step, self.clock.now(), rules_of(tenant), size=len(touches))
        groups: dict[str, list[Member]] = defaultdict(list)
        keep_open = False
        for (touch, state, enrollment), verdict in self._judged(policy, ctx, touches, concurrent=shard is not None):
            if verdict.action == SEND:
                assert step is not None and enrollment is not None
                groups[policy.executor(step, state)].append((touch, state, enrollment))
            elif not self._apply(ctx, touch, state, enrollment, verdict, report):
                keep_open = True
        if plan is not None and step is not None and groups:
            sent = sendable(self.repo, tenant_id, step, self.delivery.library)  # as it is now (None: deleted)
            for executor, members in sorted(groups.items()):
                self._task(ctx, policy, plan, (step, sent), executor, members, report, concurrent=shard is not None)
        if report.sent:  # one fact per fire for the metrics, whatever the number of its touches
            n, tasks = report.sent, report.tasks
            told = Signal(TOUCHES_DELIVERED, self.clock.now(), ref=owner, bucket_id=bucket_id, count=n, tasks=tasks)
            self.signals.publish(tenant, bucket_id, told)
        if not keep_open and shard is None:
            self.repo.drain_bucket(tenant_id, bucket_id)
        if touches:
            self.repo.release_lease(tenant_id, lease, owner)  # not on a crash: the lease then lapses
        self.fire_inline()
        if report.skipped + report.dropped > report.moved:  # one value per fire, not per touch (a moved one is queued)
            count("TouchesSkipped", report.skipped + report.dropped - report.moved)
        counts = {name: getattr(report, name) for name in ("sent", "skipped", "tasks", "retrying", "failed")}
        where = {"tenant": tenant_id, "bucket": bucket_id, "shard": shard.index if shard else None}
        logger.info("bucket fired", extra={**where, **counts})
        return report

    def _apply(
        self,
        ctx: FireContext,
        touch: Touch,
        state: Any,
        enrollment: Enrollment | None,
        verdict: Verdict,
        report: FireReport,
    ) -> bool:
        """Carry out a verdict other than SEND; False for WAIT (the touch stays, so does the bucket)."""
        tenant, plan, step = ctx.tenant, ctx.plan, ctx.step
        if verdict.action == SKIP:
            self._close(tenant, touch, SKIPPED, verdict.reason, report, plan_id=ctx.bucket.plan_id)
            if verdict.exit and enrollment is not None:
                at = iso_of(ctx.now, tenant.zone)
                reason = verdict.reason or "exit"
                if self.repo.end_enrollment(tenant.tenant_id, enrollment, status=EXITED, reason=reason, at=at):
                    exited = Signal(EXITED_SIGNAL, ctx.now, kind=reason, plan_id=enrollment.plan_id)
                    self.signals.publish(tenant, enrollment.subject.id, exited)
            elif verdict.advance and plan is not None and step is not None and enrollment is not None:
                self._advance(tenant, plan, enrollment, step, state=state)
            return True
        if verdict.action == DROP:
            self._close(tenant, touch, DROPPED, verdict.reason, report, plan_id=ctx.bucket.plan_id)
            if plan is not None and step is not None and enrollment is not None:
                self._advance(tenant, plan, enrollment, step, state=state)
            return True
        if verdict.action == MOVE:
            assert plan is not None and step is not None and enrollment is not None and verdict.at is not None
            if self._close(tenant, touch, SKIPPED, verdict.reason, report, plan_id=ctx.bucket.plan_id):
                hint = self._hint(enrollment, step, state)
                self.schedule(
                    tenant, plan, enrollment, step, occurrence=touch.occurrence + 1, at=verdict.at, executor=hint
                )
                self._advance(tenant, plan, enrollment, step, complete=False)
                report.count("moved", None)
            return True
        return False  # WAIT

    def _judged(
        self, policy: SubjectPolicy[Any], ctx: FireContext, touches: list[Touch], *, concurrent: bool = False
    ) -> Iterator[tuple[tuple[Touch, Any, Enrollment | None], Verdict]]:
        """The touches with their subject's state and enrollment, and their verdicts, a page at a time (two batched
        reads per page rather than two per touch; a page is judged right after it is read). A shard (``concurrent``)
        judges a page of distinct subjects concurrently: each verdict reads and writes only its own subject (its
        quota). An unsplit fire keeps today's order, so a twin racing it meets the same sequence."""
        tenant_id, plan_id = ctx.tenant.tenant_id, ctx.bucket.plan_id
        for i in range(0, len(touches), FIRE_READ_PAGE):
            page = touches[i : i + FIRE_READ_PAGE]
            subjects = list(dict.fromkeys(t.subject for t in page))
            loaded = policy.load(tenant_id, plan_id, subjects)
            rows = [(t, loaded.states.get(t.subject), loaded.enrollments.get(t.subject)) for t in page]
            if concurrent and len(subjects) == len(page):
                verdicts = self.fanout.each(partial(_judge, policy, ctx), rows)
            else:
                verdicts = [_judge(policy, ctx, r) for r in rows]
            yield from zip(rows, verdicts, strict=True)

    def _close(
        self, tenant: Tenant, touch: Touch, state: str, reason: str | None, report: FireReport, *, plan_id: str
    ) -> bool:
        won = self.repo.move_touch(tenant.tenant_id, touch, to_state=state, from_state=SCHEDULED, reason=reason)
        if won:
            report.count(state, reason)
            if not (reason or "").startswith("moved:"):  # a moved touch is re-queued, not skipped
                told = reason if state == SKIPPED else f"{state}:{reason}"
                ref = f"{touch.subject.id}:{touch.occurrence_key}"
                skipped = Signal(
                    TOUCH_SKIPPED, self.clock.now(), kind=told, plan_id=plan_id, ref=ref, bucket_id=touch.bucket_id
                )
                self.signals.publish(tenant, touch.subject.id, skipped)
        return won

    def _advance(
        self,
        tenant: Tenant,
        plan: Plan,
        enrollment: Enrollment,
        step: Step,
        *,
        complete: bool = True,
        state: Any = None,
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
            hint = self._hint(enrollment, following, state)
            self.schedule(tenant, plan, enrollment, following, occurrence=0, executor=hint)

    def _task(
        self,
        ctx: FireContext,
        policy: SubjectPolicy[Any],
        plan: Plan,
        steps: tuple[Step, Step | None],
        executor: str,
        members: list[Member],
        report: FireReport,
        *,
        concurrent: bool = False,
    ) -> None:
        """One confirm-to-send task per executor (split above the policy's recipient limit). ``steps``: the plan's
        step and what it sends now (content.py; None: its content was deleted, and the task fails with its touches).

        The task record is written *before* its touches are claimed and names no one: its recipients are the
        touches whose claim names it (delivery.py), so a crash at any point leaves either nothing claimed or a
        ``claimed`` task the backstop can reconcile; a claimed touch never points at no task."""
        tenant, bucket = ctx.tenant, ctx.bucket
        step, sent = steps
        members.sort(key=lambda m: m[0].key)
        for part in chunks([m[0].key for m in members], policy.recipient_limit):
            wanted = set(part)
            chunk = [m for m in members if m[0].key in wanted]
            due = datetime.fromisoformat(chunk[0][0].due_at)
            task = StaffTask(
                task_id=self.ids.new_id("tk_"),
                userid=executor,
                kind=MOMENT_TASK if step.is_moment else "mass",
                status="claimed",
                due_at=chunk[0][0].due_at,
                created_at=iso_of(self.clock.now(), tenant.zone),
                recipient_kind=policy.kind,
                text=sent.message.text if sent else "",
                notes=(sent or step).notes,
                plan_id=plan.plan_id,
                step_id=step.id,
                bucket_id=bucket.bucket_id,
                deadline=iso_of(retries.deadline(due, step.lateness.max_minutes), tenant.zone),
            )
            # Each claim names the enrollment's next touch in the same write (no write of its own to queue it).
            nexts = {m[0].key: self._next_of(tenant, plan, m[2], step) for m in chunk}
            hints = {m[0].key: self._next_hint(plan, step, m) for m in chunk}
            for following, due in {n[0].bucket_id: n for n in nexts.values() if n}.values():
                self._feed(tenant, following, due, bucket)
            self.repo.create_task(tenant.tenant_id, task)
            # The claims are independent conditional writes, each won by one fire only: a shard runs them
            # concurrently; an unsplit fire keeps today's order (a twin racing it meets the same sequence).
            claims = [(m[0], nexts[m[0].key], hints[m[0].key]) for m in chunk]
            claim = partial(self._claim, tenant, task.task_id)
            won = self.fanout.each(claim, claims) if concurrent else [claim(c) for c in claims]
            claimed = [m for m, ok in zip(chunk, won, strict=True) if ok]
            if not claimed:  # concurrent fires took them all: an empty task, carrying no one
                self.repo.save_task(tenant.tenant_id, replace(task, status="empty"), expected_status="claimed")
                continue
            task = replace(task, recipients=tuple(m[0].subject.id for m in claimed))  # saved with its outcome
            if sent is None:
                delivered = self.delivery.fail(tenant, task, CONTENT_DELETED)
            else:
                delivered = self.delivery.deliver(tenant, policy, task, [m[1] for m in claimed], sent)
            report.tasks += 1
            self._told(tenant, task, delivered, report)
            for touch, _state, enrollment in claimed:
                if nexts[touch.key] is None:  # the last step: the claim implied nothing, the enrollment ends
                    self._advance(tenant, plan, enrollment, step)

    def _told(self, tenant: Tenant, task: StaffTask, delivered: Delivered, report: FireReport) -> None:
        """Signal (delivery.py) and count what became of a task's touches: sent, retrying or failed."""
        self.delivery.tell(tenant, task, delivered)
        if delivered.outcome == RETRYING:
            report.retrying += len(delivered.subjects)
        for _ in delivered.subjects if delivered.outcome in (CREATED, FAILED) else ():
            report.count("sent" if delivered.outcome == CREATED else FAILED, delivered.reason)

    def _next_hint(self, plan: Plan, step: Step, member: Member) -> str | None:
        """The executor hint of the touch a claim implies (who sends the subject's next step), if there is one."""
        following = next_step(plan, step.id)
        return None if following is None else self._hint(member[2], following, member[1])

    def _claim(
        self, tenant: Tenant, task_id: str, claim: tuple[Touch, tuple[Bucket, datetime] | None, str | None]
    ) -> bool:
        """scheduled → sent for this task, naming the next touch (and its executor hint) if there is one; False if
        another fire won."""
        touch, following, hint = claim
        return self.repo.move_touch(
            tenant.tenant_id,
            touch,
            to_state=SENT,
            from_state=SCHEDULED,
            task_id=task_id,
            next_bucket=following[0].bucket_id if following else None,
            next_due=iso_of(following[1], tenant.zone) if following else None,
            next_executor=hint if following else None,
        )

    # --- after a crash ----------------------------------------------------------------------------------------

    def reconcile(self, tenant_id: str) -> int:
        """Tasks left ``claimed`` by a crash around ``add_msg_template`` and ``retrying`` tasks whose time has come
        (see delivery.py). Returns the tasks settled (created, failed or empty; not those still retrying)."""
        settled = self.delivery.reconcile(self._tenant(tenant_id))
        return sum(1 for _, d in settled if d.outcome != RETRYING)

    def retry_task(self, tenant_id: str, task_id: str) -> Delivered | None:
        """A retrying task's delayed schedule fired: try it again if its time has come (delivery.py)."""
        return self.delivery.retry(self._tenant(tenant_id), task_id)

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
                reports.append(self.fire(tenant_id, bucket.bucket_id, backstop=True))
        return reports


def _judge(policy: SubjectPolicy[Any], ctx: FireContext, row: tuple[Touch, Any, Enrollment | None]) -> Verdict:
    return policy.judge(ctx, *row)
