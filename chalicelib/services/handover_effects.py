"""What a settled hand-over does to one customer (services/handover.py calls it; every step is safe to repeat).

Taken over (status 1):
- the customer's owner becomes the takeover staff member, the old relation ends by transfer, and the hand-over goes
  on their timeline (one conditional write with the profile's version; a repeat finds the owner changed);
- the old owner's open tasks (claimed, retrying, created, snoozed) stop carrying the customer (``drop_recipient``,
  as erasure does) and are reissued to the new owner as a 1:1 task (once per task and customer: its dedupe key)
  carrying the whole message: text, staff notes, and the plan and step whose attachments go with it.
  A Moments task (kind ``moment``) is neither dropped nor reissued: a post is not a 1:1 message, and the new
  owner's own Moments steps cover later posts. The timeline entry and the job name what was left.
  A customer the old owner already sent to (task_sync's per-customer result ``sent``) keeps that task and is not
  reissued: no double send. The old WeCom task cannot reach them any more either: WeCom ended the old relation.
  ``cancel_groupmsg_send`` (停止企业群发) is not used: it stops a task for every recipient, not for one;
- ``owner_changed`` is published (what else follows an owner listens to it); enrollments stay as they are, and the
  next touch goes to the new owner because the fire reads the owner when it fires.

Refused (3) or limit exceeded (4): the customer stays with the old owner and their plans keep running; the outcome
goes on their timeline.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain import handover as ho
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Fact
from chalicelib.domain.instants import iso_of
from chalicelib.domain.signals import OWNER_CHANGED, Signal
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError
from chalicelib.observability import logger
from chalicelib.ports import Clock, SignalPublisher

ATTEMPTS = 3
OPEN_TASKS_LIMIT = 500  # per status, the old owner's open tasks read to find the customer's


class EffectsRepo(Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None: ...
    def list_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        limit: int,
    ) -> list[StaffTask]: ...
    def drop_recipient(self, tenant_id: str, task_id: str, customer_id: str) -> bool: ...


class TaskReissuer(Protocol):
    def reissue(
        self,
        tenant_id: str,
        task: StaffTask,
        *,
        customer_id: str,
        owner_userid: str,
        reason: str,
        due: datetime,
        dedupe_key: str,
    ) -> str:
        """``task``'s message as a 1:1 task of ``owner_userid`` for one customer, once per ``dedupe_key``."""
        ...


class HandoverEffects:
    def __init__(self, repo: EffectsRepo, tasks: TaskReissuer, signals: SignalPublisher, clock: Clock) -> None:
        self.repo = repo
        self.tasks = tasks
        self.signals = signals
        self.clock = clock

    def open_tasks(self, tenant_id: str, userid: str, customer_ids: set[str]) -> list[StaffTask]:
        """The staff member's tasks that may still send and carry any of ``customer_ids``."""
        found = []
        for status in ho.OPEN_TASK_STATUSES:
            rows = self.repo.list_tasks(
                tenant_id, userid=userid, status=status, due_from=None, due_to=None, limit=OPEN_TASKS_LIMIT
            )
            found += [t for t in rows if customer_ids & set(t.customer_ids)]
        return found

    def settle(self, tenant: Tenant, job: dict[str, Any], customer_id: str, state: str) -> int:
        """Apply the customer's final ``state`` in the hand-over ``job`` (TAKEN_OVER, REFUSED, LIMIT_EXCEEDED);
        how many of the old owner's Moments tasks carrying the customer were left, not reissued."""
        if state == ho.TAKEN_OVER:
            if self._take_over(tenant, job, customer_id):
                reissue, moments = self._open_of(tenant.tenant_id, job, customer_id)
                self._move_tasks(tenant, job, customer_id, reissue)
                return len(moments)
        elif state in (ho.REFUSED, ho.LIMIT_EXCEEDED):
            self._note(tenant, job, customer_id, state)
        return 0

    def _take_over(self, tenant: Tenant, job: dict[str, Any], customer_id: str) -> bool:
        """Owner and relation (once); False when the customer is gone (erased). The timeline entry names the open
        tasks about to be reissued, so erasure finds the new owner's copies."""
        tid, takeover = tenant.tenant_id, job["takeover_userid"]
        for _ in range(ATTEMPTS):
            customer = self.repo.get_customer(tid, customer_id)
            if customer is None:
                return False
            if customer.was_applied(ho.takeover_digest(job["job_id"])):
                return True  # a repeat: done before
            now = self.clock.now()
            updated = ho.take_over(
                customer,
                handover=job["handover_userid"],
                takeover=takeover,
                at=iso_of(now, tenant.zone),
                now=iso_of(now, tenant.zone),
                digest=ho.takeover_digest(job["job_id"]),
            )
            reissue, moments = self._open_of(tid, job, customer_id)
            fact = self._fact(
                tenant,
                job,
                customer,
                ho.TAKEN_OVER,
                tasks=[t.task_id for t in reissue],
                moments=[t.task_id for t in moments],
            )
            try:
                self.repo.save_customer(tid, updated, expected_version=customer.version, fact=fact)
            except ConflictError:
                continue
            changed = Signal(OWNER_CHANGED, now, ref=job["job_id"], staff=takeover, member=job["handover_userid"])
            self.signals.publish(tenant, customer_id, changed)
            return True
        logger.warning("hand-over takeover kept conflicting", extra={"tenant": tid, "customer_id": customer_id})
        return True

    def _open_of(
        self, tenant_id: str, job: dict[str, Any], customer_id: str
    ) -> tuple[list[StaffTask], list[StaffTask]]:
        """The old owner's open tasks carrying the customer: those to reissue (not yet sent to them: a sent one
        stays put), and the Moments tasks (left as they are: a post is never reissued as a 1:1 text)."""
        tasks = self.open_tasks(tenant_id, job["handover_userid"], {customer_id})
        moments = [t for t in tasks if t.kind == ho.MOMENT]
        reissue = [t for t in tasks if t.kind != ho.MOMENT and t.outcome_map().get(customer_id) != "sent"]
        return reissue, moments

    def _move_tasks(self, tenant: Tenant, job: dict[str, Any], customer_id: str, tasks: list[StaffTask]) -> None:
        tid = tenant.tenant_id
        for task in tasks:
            if not self.repo.drop_recipient(tid, task.task_id, customer_id):
                continue
            self.tasks.reissue(
                tid,
                task,
                customer_id=customer_id,
                owner_userid=job["takeover_userid"],
                reason="handover",
                due=self.clock.now(),
                dedupe_key=f"handover:{job['job_id']}:{task.task_id}:{customer_id}",  # = ho.reissued_task_id
            )

    def _note(self, tenant: Tenant, job: dict[str, Any], customer_id: str, state: str) -> None:
        """The failed hand-over on the customer's timeline; they stay with the old owner."""
        tid = tenant.tenant_id
        for _ in range(ATTEMPTS):
            customer = self.repo.get_customer(tid, customer_id)
            if customer is None:
                return
            now = iso_of(self.clock.now(), tenant.zone)
            noted = replace(customer, updated_at=now, version=customer.version + 1)
            try:
                self.repo.save_customer(
                    tid, noted, expected_version=customer.version, fact=self._fact(tenant, job, customer, state)
                )
                return
            except ConflictError:
                continue  # a concurrent change, or the note was written before (its fact exists)

    def _fact(
        self,
        tenant: Tenant,
        job: dict[str, Any],
        customer: Customer,
        state: str,
        *,
        tasks: list[str] | None = None,
        moments: list[str] | None = None,
    ) -> Fact:
        now = self.clock.now()
        detail: dict[str, Any] = {
            "job_id": job["job_id"],
            "outcome": state,
            "outcome_label": ho.STATE_LABELS[state],
            "from": job["handover_userid"],
            "to": job["takeover_userid"],
            "mode": job["mode"],
        }
        if tasks:
            detail["tasks"] = tasks  # the old owner's open tasks reissued to the new owner (ho.reissued_task_id)
        if moments:
            detail["moments_not_reissued"] = moments  # the old owner's Moments tasks, left as they were
        return Fact(
            tenant_id=tenant.tenant_id,
            customer_id=customer.customer_id,
            create_time=int(now.timestamp()),
            digest=ho.outcome_digest(job["job_id"], state),
            type="handover",
            at=iso_of(now, tenant.zone),
            userid=job["takeover_userid"],
            detail=detail,
        )
