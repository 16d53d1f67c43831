"""Handing a claimed staff task to WeCom through its subject policy, retrying what met a transient error, and settling
tasks a crash left ``claimed`` (issue 9 §1, §2; the invariants are listed in docs/operations.md).

- A task's recipients are its claims: the touches of its bucket that name it (``claims``), never a list written
  before them. The task record is written without recipients and gets them with WeCom's msgid (or its failure).
- A msgid belongs to one task: ``claim_msgid`` (a conditional put) comes before the task records it.
- A transient WeCom error (``transient``) leaves the task ``retrying`` with its touches attached; the backstop tries
  it again after a backoff that waits out WeCom's blocks (domain/retries.py) until the task's deadline, then the task
  and its touches are ``failed`` with the errcode as the reason. Any other error fails them at once.
- ``add_msg_template`` has no idempotency key, so a task left ``claimed`` by a crash (or ``retrying`` after a call
  whose answer was lost) is first looked for in WeCom (recovery.py): adopted only if a WeCom task of its sender and
  text carries exactly its claimed recipients (less those WeCom could not reach), and sent again otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import retries, timing
from chalicelib.domain.instants import iso_of
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Step
from chalicelib.domain.signals import TOUCH_SENT, TOUCH_SKIPPED, Signal
from chalicelib.domain.sop import FAILED, RETRYING, SENT, StaffTask, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import (
    SiyuError,
    WeComBusyError,
    WeComError,
    WeComRateLimitError,
    WeComTokenError,
    WeComTransportError,
)
from chalicelib.observability import count, count_by, logger
from chalicelib.ports import Clock, IdGenerator, MsgTemplateResult, SchedulerPort, SignalPublisher, WeComPort
from chalicelib.ports.moments import MomentsPort
from chalicelib.ports.wecom import INVALID_MEDIA_ID
from chalicelib.services.signals import NoSignals
from chalicelib.services.sop.content import CONTENT_DELETED, MessageLibrary, sendable
from chalicelib.services.sop.moments import IN_DOUBT, MOMENT_TASK, UNSUPPORTED, MomentPoster, posting
from chalicelib.services.sop.policy import Policies, SubjectPolicy
from chalicelib.services.sop.recovery import adoptable
from chalicelib.services.sop.repos import DeliveryRepo
from chalicelib.services.sop.rules import PlanSource, creds_of

RECONCILE_AFTER = timedelta(minutes=2)  # a claimed task younger than this may still be in flight
TASK_LEASE = timedelta(minutes=2)  # one reconciler per task at a time
UNREACHABLE = "wecom_unreachable"  # no answer (HTTP 5xx, timeout): WeCom may have created the task

CREATED = "created"


@dataclass(frozen=True)
class Delivered:
    """What became of a task's touches: ``created`` (in a WeCom task), ``retrying`` or ``failed`` (``reason``)."""

    outcome: str
    subjects: tuple[str, ...] = ()  # the subject ids of the touches concerned
    reason: str | None = None


def transient(exc: SiyuError) -> bool:
    """-1, 45009, 45033, a token WeCom rejected after one refresh, any gettoken failure, HTTP 5xx and timeouts."""
    if isinstance(exc, WeComBusyError | WeComRateLimitError | WeComTokenError | WeComTransportError):
        return True
    return isinstance(exc, WeComError) and exc.api == "gettoken"


def reason_of(exc: SiyuError) -> str:
    """The errcode as a reason (``wecom_45009``), or the error's code when WeCom gave none."""
    errcode = getattr(exc, "errcode", None)
    return f"wecom_{errcode}" if isinstance(errcode, int) else (UNREACHABLE if transient(exc) else exc.code)


def _version_of(task: StaffTask) -> int:
    """The plan version a task's bucket belongs to (bucket ids read ``<plan>.<version>.<step>.<minute>``)."""
    parts = (task.bucket_id or "").split(".")
    return int(parts[1]) if len(parts) >= 4 and parts[1].isdigit() else 0


class TaskDelivery:
    def __init__(
        self,
        repo: DeliveryRepo,
        plans: PlanSource,
        wecom: WeComPort,
        clock: Clock,
        policies: Policies,
        ids: IdGenerator,
        signals: SignalPublisher | None = None,
        scheduler: SchedulerPort | None = None,
        library: MessageLibrary | None = None,
    ) -> None:
        self.library = library  # content library items and scripts, resolved as a step goes out (content.py)
        self.repo = repo
        self.plans = plans
        self.wecom = wecom  # reconciliation reads WeCom's tasks; sending is the policy's
        self.clock = clock
        self.policies = policies
        self.ids = ids
        self.signals: SignalPublisher = signals or NoSignals()
        self.scheduler = scheduler  # a retry's delayed schedule (the backstop is the net)
        # Moments steps (moments.py) post through the same client when it has the Moments calls (WeComClient does).
        self.moments = MomentPoster(repo, wecom, wecom) if isinstance(wecom, MomentsPort) else None

    # --- one attempt ------------------------------------------------------------------------------------------

    def deliver(
        self, tenant: Tenant, policy: SubjectPolicy[Any], task: StaffTask, recipients: list[Any], step: Step
    ) -> Delivered:
        """One ``add_msg_template`` for the task's claimed ``recipients`` (``task.recipients`` are their ids); a
        Moments step's task makes one ``add_moment_task`` instead (moments.py)."""
        if step.is_moment and self.moments is None:
            return self.fail(tenant, task, UNSUPPORTED)
        try:
            if step.is_moment and self.moments is not None:
                result = self.moments.post(tenant, task, recipients, step)
            else:
                result = self._send(tenant, policy, task.userid, recipients, step.message)
        except SiyuError as exc:
            return self._unsent(tenant, task, exc)
        self._created(tenant, task, result.msgid, len(result.fail_list))
        return Delivered(CREATED, task.recipients)

    def _send(
        self, tenant: Tenant, policy: SubjectPolicy[Any], sender: str, recipients: list[Any], message: Message
    ) -> MsgTemplateResult:
        """The call; on 40007 (a media_id WeCom no longer takes: it made no task) the library's items are uploaded
        again and the call made once more, so no touch fails because its media expired."""
        try:
            return policy.deliver(tenant, sender=sender, recipients=recipients, message=message)
        except WeComError as exc:
            if (
                exc.errcode != INVALID_MEDIA_ID
                or self.library is None
                or not any(a.content_id for a in message.attachments)
            ):
                raise
        fresh = self.library.refresh(tenant.tenant_id, message)
        return policy.deliver(tenant, sender=sender, recipients=recipients, message=fresh)

    def _created(self, tenant: Tenant, task: StaffTask, msgid: str, failed: int) -> bool:
        """Record WeCom's msgid on the task, once the msgid is this task's (False: another task holds it)."""
        if not self.repo.claim_msgid(tenant.tenant_id, msgid, task.task_id, at=task.created_at):
            return False
        created = replace(task, status=CREATED, msgid=msgid, results={"fail_list": failed}, retry_at=None)
        self.repo.save_task(tenant.tenant_id, created, expected_status=task.status, recipients=True)
        return True

    def _unsent(self, tenant: Tenant, task: StaffTask, exc: SiyuError) -> Delivered:
        """WeCom did not take the task: ``retrying`` if the error is transient and the deadline allows, else failed."""
        reason = reason_of(exc)
        logger.warning("add_msg_template failed", extra={"code": exc.code, "reason": reason, "task": task.task_id})
        if transient(exc):
            now = self.clock.now()
            attempts = task.attempts + 1
            # A task written before deadlines were (none recorded) gets the shortest one its due time allows.
            until = (
                datetime.fromisoformat(task.deadline)
                if task.deadline
                else retries.deadline(datetime.fromisoformat(task.due_at), 0)
            )
            at = retries.next_try(now, getattr(exc, "errcode", None), attempts, until)
            if at is not None:
                retry_at = iso_of(at, tenant.zone)
                again = replace(task, status=RETRYING, reason=reason, attempts=attempts, retry_at=retry_at)
                self.repo.save_task(tenant.tenant_id, again, expected_status=task.status, recipients=True)
                count("Task.retrying")
                self._schedule_retry(tenant, again, at)
                return Delivered(RETRYING, task.recipients, reason)
        return self.fail(tenant, task, reason)

    def _schedule_retry(self, tenant: Tenant, task: StaffTask, at: datetime) -> None:
        """A one-time schedule that retries the task at ``at`` (the fire Lambda, ``{tenant_id, task_id}``); if it
        cannot be made, the backstop's next run after ``at`` retries it all the same."""
        if self.scheduler is None:
            return
        digest = hashlib.sha256(f"{tenant.tenant_id}|{task.task_id}|{task.attempts}".encode()).hexdigest()[:40]
        expression, zone = timing.schedule_at(at + timedelta(minutes=1), tenant.zone)  # at() is to the minute
        try:
            payload = {"tenant_id": tenant.tenant_id, "task_id": task.task_id}
            self.scheduler.schedule(name=f"siyu-r-{digest}", expression=expression, timezone=zone, payload=payload)
        except SiyuError as exc:
            logger.warning("retry not scheduled", extra={"task": task.task_id, "code": exc.code})

    def tell(self, tenant: Tenant, task: StaffTask, delivered: Delivered) -> None:
        """Signal what became of a task's touches: ``touch_sent`` once WeCom holds them, ``touch_skipped``
        ("failed:<reason>") once they failed for good; nothing while they are retrying."""
        at = self.clock.now()
        if delivered.outcome == CREATED and delivered.subjects:  # every path to WeCom ends here: fire, retry, adoption
            count("TouchesFired", len(delivered.subjects))
        for subject_id in delivered.subjects:
            ref, bucket, staff = f"{task.task_id}:{subject_id}", task.bucket_id, task.userid
            if delivered.outcome == CREATED:
                kind = task.step_id or ""
                signal = Signal(TOUCH_SENT, at, kind=kind, plan_id=task.plan_id, ref=ref, bucket_id=bucket, staff=staff)
            elif delivered.outcome == FAILED:
                kind = f"failed:{delivered.reason}"
                signal = Signal(TOUCH_SKIPPED, at, kind=kind, plan_id=task.plan_id, ref=ref, bucket_id=bucket)
            else:
                continue
            self.signals.publish(tenant, subject_id, signal)

    def fail(self, tenant: Tenant, task: StaffTask, reason: str, claims: list[Touch] | None = None) -> Delivered:
        """Final: every touch the task claimed becomes ``failed`` (first, so no touch is left ``sent`` under a failed
        task), then the task. The metrics count them: ``TouchesFailed`` and ``TouchesFailedByReason{reason}``.
        ``claims``: the task's ``sent`` claims when the caller, holding the task's lease, has read them already."""
        claims = self.claims(tenant.tenant_id, task) if claims is None else claims
        for touch in claims:
            self.repo.move_touch(
                tenant.tenant_id,
                touch,
                to_state=FAILED,
                from_state=SENT,
                task_id=task.task_id,
                reason=reason,
                next_bucket=touch.next_bucket,
                next_due=touch.next_due,
                next_executor=touch.next_executor,
            )
        failed = replace(task, status=FAILED, reason=reason, retry_at=None)
        self.repo.save_task(tenant.tenant_id, failed, expected_status=task.status, recipients=True)
        count("TouchesFailed", len(claims))
        count_by("TouchesFailedByReason", "reason", reason, len(claims))
        logger.warning("task failed for good", extra={"task": task.task_id, "reason": reason, "touches": len(claims)})
        return Delivered(FAILED, tuple(t.subject.id for t in claims), reason)

    def claims(self, tenant_id: str, task: StaffTask, *, state: str | None = SENT) -> list[Touch]:
        """The touches the task claimed (``state`` None: also those already failed under it): its recipients."""
        if not task.bucket_id:
            return []
        touches = self.repo.touches_in(tenant_id, task.bucket_id, state=state)
        return [t for t in touches if t.task_id == task.task_id]

    # --- after a crash or a transient error -------------------------------------------------------------------

    def reconcile(self, tenant: Tenant) -> list[tuple[StaffTask, Delivered]]:
        """Settle tasks a crash left ``claimed`` (older than ``RECONCILE_AFTER``) and ``retrying`` tasks whose time
        has come, each under its own lease: adopt WeCom's task or send again; past the deadline, fail them."""
        tenant_id, now = tenant.tenant_id, self.clock.now()
        due: list[StaffTask] = []
        for status in ("claimed", RETRYING):
            for task in self.repo.list_tasks(
                tenant_id, userid=None, status=status, due_from=None, due_to=None, limit=500
            ):
                if status == "claimed" and now - datetime.fromisoformat(task.created_at) < RECONCILE_AFTER:
                    continue  # may still be in flight
                if status == RETRYING and task.retry_at and datetime.fromisoformat(task.retry_at) > now:
                    continue
                due.append(task)
        settled = []
        for task in due:
            done = self._leased(tenant, task.task_id, task.status)
            if done is not None:
                settled.append(done)
        return settled

    def retry(self, tenant: Tenant, task_id: str) -> Delivered | None:
        """A retry's delayed schedule fired: try the task again if it is still ``retrying`` and its time has come
        (None: nothing to do, e.g. the backstop got there first)."""
        task = self.repo.get_task(tenant.tenant_id, task_id)
        if task is None or task.status != RETRYING:
            return None
        if task.retry_at and datetime.fromisoformat(task.retry_at) > self.clock.now():
            return None
        done = self._leased(tenant, task_id, RETRYING)
        return done[1] if done else None

    def _leased(self, tenant: Tenant, task_id: str, status: str) -> tuple[StaffTask, Delivered] | None:
        """Settle one task under its lease if it is still ``status`` (None: another reconciler has it, it moved on,
        or WeCom or storage failed us now, leaving it as it is for the next run)."""
        tenant_id, owner, lease = tenant.tenant_id, self.ids.new_id("ls_"), f"task#{task_id}"
        if not self.repo.take_lease(tenant_id, lease, owner, now=self.clock.now(), hold=TASK_LEASE):
            return None
        try:
            current = self.repo.get_task(tenant_id, task_id)
            if current is None or current.status != status:
                return None
            delivered = self._settle(tenant, current)
            self.tell(tenant, current, delivered)
            return current, delivered
        except SiyuError as exc:
            logger.warning("task not settled", extra={"task": task_id, "code": exc.code})
            return None
        finally:
            self.repo.release_lease(tenant_id, lease, owner)

    def _settle(self, tenant: Tenant, task: StaffTask) -> Delivered:
        """Adopt the task's WeCom task if one may exist and qualifies; else send its claims again (or fail them)."""
        tenant_id = tenant.tenant_id
        policy = self.policies[task.recipient_kind]
        every = self.claims(tenant_id, task, state=None)
        claims = [t for t in every if t.state == SENT]
        if not claims:  # nothing left under it: its claims failed before a crash, or there never were any
            gone = next((t.reason for t in every if t.state == FAILED), None)
            final = FAILED if gone else "empty"
            ended = replace(task, status=final, reason=gone or task.reason, recipients=(), retry_at=None)
            self.repo.save_task(tenant_id, ended, expected_status=task.status, recipients=True)
            return Delivered(final, (), gone)
        subjects = [t.subject for t in claims]
        states = policy.load(tenant_id, task.plan_id or "", subjects).states
        reachable = [s for s in subjects if s in states]
        task = replace(task, recipients=tuple(s.id for s in reachable))
        addresses = {policy.address(states[s]) for s in reachable}
        now = self.clock.now()
        if task.kind == MOMENT_TASK and (posting(task) or task.reason == UNREACHABLE):
            return self.fail(tenant, task, IN_DOUBT, claims)  # WeCom may hold the post: never a second one
        if task.kind != MOMENT_TASK and (task.status == "claimed" or task.reason == UNREACHABLE):  # look first
            found = adoptable(self.wecom, creds_of(tenant), task, addresses, now, chat_type=policy.chat_type)
            for msgid, carried in found:
                if self._created(tenant, task, msgid, len(addresses) - len(carried)):
                    return Delivered(CREATED, task.recipients)
        if task.deadline and now > datetime.fromisoformat(task.deadline):
            return self.fail(tenant, task, task.reason or "deadline", claims)
        plan = self.plans.plan_version(tenant_id, task.plan_id or "", _version_of(task))
        step = plan.step(task.step_id or "") if plan else None
        if step is None or not reachable:
            return self.fail(tenant, task, "unrecoverable", claims)
        # What it sends now: its content as it is (content.py), with the text its task shows (recovery matches by it).
        sent = sendable(self.repo, tenant_id, step, self.library)
        if sent is None:
            return self.fail(tenant, task, CONTENT_DELETED, claims)
        sent = replace(sent, message=replace(sent.message, text=task.text))
        if task.status == RETRYING:  # claimed again first: a crash during this call leaves it to be looked for
            task = replace(task, status="claimed", created_at=iso_of(now, tenant.zone))
            if not self.repo.save_task(tenant_id, task, expected_status=RETRYING, recipients=True):
                return Delivered(RETRYING, (), task.reason)
        return self.deliver(tenant, policy, task, [states[s] for s in reachable], sent)
