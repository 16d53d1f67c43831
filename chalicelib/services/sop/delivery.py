"""Handing a claimed staff task to WeCom through its subject policy, and settling tasks a crash left ``claimed``.

``add_msg_template`` has no idempotency key, so a crash between that call and the task record leaves the task
``claimed``; reconciliation (run by the backstop) adopts the msgid WeCom created — same sender, same text, created
after the claim, found with ``get_groupmsg_list_v2`` — and only calls again if WeCom has no such task.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.plans import Step
from chalicelib.domain.sop import FAILED, StaffTask, Subject
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError
from chalicelib.observability import logger
from chalicelib.ports import Clock, TaskRepository, WeComPort
from chalicelib.services.sop.policy import Policies, SubjectPolicy
from chalicelib.services.sop.rules import PlanSource, creds_of

RECONCILE_AFTER = timedelta(minutes=2)


def _version_of(task: StaffTask) -> int:
    """The plan version a task's bucket belongs to (bucket ids read ``<plan>.<version>.<step>.<minute>``)."""
    parts = (task.bucket_id or "").split(".")
    return int(parts[1]) if len(parts) >= 4 and parts[1].isdigit() else 0


class TaskDelivery:
    def __init__(
        self, repo: TaskRepository, plans: PlanSource, wecom: WeComPort, clock: Clock, policies: Policies
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.wecom = wecom  # reconciliation reads WeCom's task list; sending is the policy's
        self.clock = clock
        self.policies = policies

    def deliver(
        self, tenant: Tenant, policy: SubjectPolicy[Any], task: StaffTask, recipients: list[Any], step: Step
    ) -> None:
        try:
            result = policy.deliver(tenant, sender=task.userid, recipients=recipients, message=step.message)
        except SiyuError as exc:
            failed = replace(task, status=FAILED, reason=exc.code)
            self.repo.save_task(tenant.tenant_id, failed, expected_status="claimed")
            logger.warning("add_msg_template failed", extra={"code": exc.code, "task": task.task_id})
            return
        self._created(tenant, task, result.msgid, len(result.fail_list))

    def _created(self, tenant: Tenant, task: StaffTask, msgid: str, failed: int) -> None:
        created = replace(task, status="created", msgid=msgid, results={"fail_list": failed})
        self.repo.save_task(tenant.tenant_id, created, expected_status="claimed")

    def reconcile(self, tenant: Tenant) -> int:
        """Tasks left ``claimed`` by a crash around ``add_msg_template``: adopt the msgid WeCom created (same
        sender, same text, created after the claim), or send now if WeCom has none. Returns tasks settled."""
        tenant_id = tenant.tenant_id
        now = self.clock.now()
        settled = 0
        for task in self.repo.list_tasks(
            tenant_id, userid=None, status="claimed", due_from=None, due_to=None, limit=500
        ):
            claimed_at = datetime.fromisoformat(task.created_at)
            if now - claimed_at < RECONCILE_AFTER:
                continue  # may still be in flight
            page = self.wecom.get_groupmsg_list(
                creds_of(tenant),
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
                self._resend(tenant, task)
            settled += 1
        return settled

    def _resend(self, tenant: Tenant, task: StaffTask) -> None:
        """Send a claimed task WeCom never saw, to the recipients still there (failed if none or no step)."""
        policy = self.policies[task.recipient_kind]
        plan = self.plans.plan_version(tenant.tenant_id, task.plan_id or "", _version_of(task))
        step = plan.step(task.step_id or "") if plan else None
        subjects = [Subject(task.recipient_kind, sid) for sid in task.recipients]
        states = policy.load(tenant.tenant_id, task.plan_id or "", subjects).states if subjects else {}
        recipients = [states[s] for s in subjects if s in states]
        if step is None or not recipients:
            unrecoverable = replace(task, status=FAILED, reason="unrecoverable")
            self.repo.save_task(tenant.tenant_id, unrecoverable, expected_status="claimed")
            return
        self.deliver(tenant, policy, task, recipients, step)
