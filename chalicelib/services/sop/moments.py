"""A Moments step (朋友圈, issue 14 §4) as the kernel delivers it: the staff task's customers get the step's WeCom tag,
then one ``add_moment_task`` asks the staff member to publish the step's post to their customers bearing that tag.

The kernel, its claims and its staff tasks are the same as for a message step (one kernel: kernel.py); only the
WeCom call differs, so delivery.py asks this module instead of the subject policy. The task's ``msgid`` is
``mj:<jobid>`` until task sync (services/moment_sync.py) learns the post's ``moment_id`` (``mo:<moment_id>``).

Effectively once: add_moment_task has no idempotency key and WeCom offers nothing to find a job by, so the task
records its intent (``reason`` = ``moment_posting``, a conditional save) before the call. A task a crash left
``claimed`` *without* that mark never reached WeCom and is posted again; one *with* it may have, and fails as
``moment_in_doubt`` instead of posting twice (the staff member may still see and publish the one WeCom holds).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from chalicelib.domain.plans import Step
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, WeComError
from chalicelib.observability import logger
from chalicelib.ports import MsgTemplateResult, TaskRepository, WeComPort
from chalicelib.ports.moments import MomentsPort
from chalicelib.services.sop.rules import creds_of

MOMENT_TASK = "moment"  # StaffTask.kind of a Moments step's task
JOB_PREFIX, MOMENT_PREFIX = "mj:", "mo:"  # the task's msgid before and after the job completed
POSTING = "moment_posting"  # the intent mark saved on the task right before add_moment_task
IN_DOUBT = "moment_in_doubt"  # a crash after the intent: WeCom may hold the post, it is not made again
UNSUPPORTED = "moments_unsupported"  # the WeCom adapter in use has no Moments calls
TAG_GROUP = "Siyu·朋友圈"  # the corp tag group holding each Moments step's tag
NOT_FRIEND = 84061  # mark_tag: the staff member no longer has this customer


def step_tag_name(plan_id: str, step_id: str) -> str:
    """The step's tag (corp tag names are short): stable for the step across versions and fires."""
    return "朋友圈·" + hashlib.sha256(f"{plan_id}|{step_id}".encode()).hexdigest()[:12]


def posting(task: StaffTask) -> bool:
    """Whether the task may have reached add_moment_task (its intent was recorded)."""
    return task.kind == MOMENT_TASK and task.reason == POSTING


class MomentPoster:
    def __init__(self, repo: TaskRepository, wecom: WeComPort, moments: MomentsPort) -> None:
        self.repo = repo
        self.wecom = wecom  # the corp tags
        self.moments = moments

    def post(self, tenant: Tenant, task: StaffTask, customers: list[Any], step: Step) -> MsgTemplateResult:
        """Tag the customers (idempotent), record the intent, create the Moments task: its ``mj:<jobid>``, and the
        external_userids that could not be tagged (no longer the staff member's customers) as the fail list."""
        creds = creds_of(tenant)
        name = step_tag_name(task.plan_id or "", step.id)
        tag_id = self.wecom.add_corp_tags(creds, group_name=TAG_GROUP, tag_names=[name]).tags[name]
        untagged = []
        for customer in customers:
            try:
                self.wecom.mark_tag(
                    creds, userid=task.userid, external_userid=customer.external_userid, add_tag=[tag_id], remove_tag=[]
                )
            except WeComError as exc:
                if exc.errcode != NOT_FRIEND:
                    raise
                untagged.append(customer.external_userid)
        if not self.repo.save_task(tenant.tenant_id, replace(task, reason=POSTING), expected_status=task.status):
            raise ConflictError("the task moved on before its Moments post")
        jobid = self.moments.add_moment_task(creds, message=step.message, senders=[task.userid], tag_ids=[tag_id])
        logger.info("moment task created", extra={"tenant": tenant.tenant_id, "task": task.task_id})
        return MsgTemplateResult(msgid=JOB_PREFIX + jobid, fail_list=tuple(untagged))
