"""Staff tasks as staff and the API see them: list, page, read, confirm, snooze; and follow-up tasks other services
ask for (TaskSink). Confirm-to-send tasks are made by the SOP kernel's fire; their WeCom status and escalation to a
lead are the task sync's (task_sync.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.instants import iso_of
from chalicelib.domain.signals import TASK_CONFIRMED, Signal
from chalicelib.domain.sop import CUSTOMER, FAILED, RETRYING, StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import follow_up_task_id
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.ports import Clock, Page, SignalPublisher, TaskRepository
from chalicelib.services.signals import NoSignals

UNSENDABLE = frozenset({"claimed", RETRYING, FAILED, "empty"})  # mass task statuses with no WeCom task


class StaffTaskRepo(TaskRepository, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


class StaffTaskService:
    def __init__(self, repo: StaffTaskRepo, clock: Clock, signals: SignalPublisher | None = None) -> None:
        self.repo = repo
        self.clock = clock
        self.signals = signals or NoSignals()  # "task_confirmed"

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

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
        kind: str = "follow_up",
    ) -> str:
        """A 1:1 task for the customer's owner, once per ``dedupe_key`` (a repeat finds the same id): a reply's
        follow-up, or (``kind`` "welcome") a welcome message to send by hand because WeCom's could not go out."""
        message = StaffTask("", "", kind, "created", "", "", text=text)
        return self._one_to_one(tenant_id, message, customer_id, owner_userid, reason, due, dedupe_key)

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
        """Another staff member's open ``task`` as a 1:1 follow-up of ``owner_userid`` for one customer (a
        hand-over), once per ``dedupe_key``. Its whole message goes with it: the text, the staff notes (话术), and
        its plan, step and bucket (the plan version), whose message holds the attachments (content library items,
        media), as escalations carry them."""
        message = replace(task, kind="follow_up")
        return self._one_to_one(tenant_id, message, customer_id, owner_userid, reason, due, dedupe_key)

    def _one_to_one(
        self,
        tenant_id: str,
        message: StaffTask,
        customer_id: str,
        owner_userid: str,
        reason: str,
        due: datetime,
        dedupe_key: str,
    ) -> str:
        """A created 1:1 task of ``message``'s kind and message (text, notes, plan, step, bucket) for one customer."""
        tenant = self._tenant(tenant_id)
        task_id = follow_up_task_id(dedupe_key)  # the timeline finds the task from the reply it follows
        self.repo.create_task(
            tenant_id,
            StaffTask(
                task_id=task_id,
                userid=owner_userid,
                kind=message.kind,
                status="created",
                due_at=iso_of(due, tenant.zone),
                created_at=iso_of(self.clock.now(), tenant.zone),
                recipients=(customer_id,),
                recipient_kind=CUSTOMER,
                text=message.text,
                notes=message.notes,
                plan_id=message.plan_id,
                step_id=message.step_id,
                bucket_id=message.bucket_id,  # names the plan version: the step's attachments as the task had them
                reason=reason,
            ),
        )
        return task_id

    def tasks(self, tenant_id: str, **filters: Any) -> list[StaffTask]:
        return self.repo.list_tasks(tenant_id, **filters)

    def task_page(self, tenant_id: str, **filters: Any) -> Page:
        """One page of tasks for the API; ``cursor`` is the previous page's ``next_cursor``."""
        return self.repo.page_tasks(tenant_id, **filters)

    def task(self, tenant_id: str, task_id: str, *, userid: str | None) -> StaffTask:
        """One task; a staff member (``userid``) sees only their own."""
        return self._owned_task(tenant_id, task_id, userid)

    def confirm(self, tenant_id: str, task_id: str, *, userid: str | None, proof_url: str | None) -> StaffTask:
        """Staff confirm a task by hand (optionally with a proof screenshot URL). A mass task WeCom does not hold
        (claimed, retrying, failed, empty) has nothing to confirm: confirming it would take it out of its retries."""
        task = self._owned_task(tenant_id, task_id, userid)
        if task.kind in ("mass", "moment") and task.status in UNSENDABLE:  # a Moments post WeCom holds, likewise
            raise ConflictError(f"task {task_id} is {task.status}: WeCom holds nothing to confirm yet")
        done = replace(task, status="confirmed", proof_url=proof_url or task.proof_url)
        if not self.repo.save_task(tenant_id, done, expected_status=task.status):
            raise NotFoundError(f"task {task_id} changed; reload it")
        if task.status != "confirmed":  # a repeated confirm tells nobody twice
            since = task.created()
            confirmed = Signal(
                TASK_CONFIRMED, self.clock.now(), kind=task_id, ref=task_id, staff=task.userid, since=since
            )
            self.signals.publish(self._tenant(tenant_id), task.userid, confirmed)
        return done

    def snooze(self, tenant_id: str, task_id: str, *, userid: str | None, minutes: int) -> StaffTask:
        task = self._owned_task(tenant_id, task_id, userid)
        tenant = self._tenant(tenant_id)
        until = iso_of(self.clock.now() + timedelta(minutes=minutes), tenant.zone)
        snoozed = replace(task, snoozed_until=until, due_at=until)
        if not self.repo.save_task(tenant_id, snoozed, expected_status=task.status):
            raise NotFoundError(f"task {task_id} changed; reload it")
        return snoozed

    def _owned_task(self, tenant_id: str, task_id: str, userid: str | None) -> StaffTask:
        task = self.repo.get_task(tenant_id, task_id)
        if task is None or (userid is not None and task.userid != userid):
            raise NotFoundError(f"task {task_id} does not exist")
        return task
