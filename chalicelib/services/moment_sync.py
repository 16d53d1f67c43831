"""What became of a Moments step's task (朋友圈, issue 14 §4), for task sync (task_sync.py): the job until WeCom made
the post, then whether the staff member published it and whom it reached.

- ``mj:<jobid>``: get_moment_task_result. Not done yet: asked again next run. Done with a moment_id: the task's
  msgid becomes ``mo:<moment_id>`` (a conditional save) and the step's tag comes off its customers (the job fixed
  who sees the post; the step's next fire must not show its post to them again). Done without one: the task
  failed (``wecom_<errcode>``).
- ``mo:<moment_id>``: get_moment_task (publish_status of the task's staff member). Published: who could see it
  (get_moment_customer_list) and whom it reached (get_moment_send_result) become the customers' outcomes in the
  mass tasks' codes — reached 1 (sent), visible but not reached 0 (not_sent); a customer WeCom lists in neither
  (they could not be tagged: no longer the staff member's) stays unreachable — so the metrics and timelines read
  them as they read a mass task's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.customers import Customer
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError, WeComError
from chalicelib.observability import logger
from chalicelib.ports import TaskRepository, WeComPort
from chalicelib.ports.moments import PUBLISHED, MomentPage, MomentsPort
from chalicelib.services.sop.moments import JOB_PREFIX, MOMENT_PREFIX, NOT_FRIEND, TAG_GROUP, step_tag_name
from chalicelib.services.sop.rules import creds_of

MAX_PAGES = 50
SENT, NOT_SENT = 1, 0  # get_groupmsg_send_result's codes, which the task outcomes keep


class MomentSyncRepo(TaskRepository, Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...


class MomentSync:
    def __init__(self, repo: MomentSyncRepo, wecom: WeComPort, moments: MomentsPort) -> None:
        self.repo = repo
        self.wecom = wecom  # the step's tag comes off the customers once the post exists
        self.moments = moments

    def published(self, tenant: Tenant, task: StaffTask) -> list[tuple[str, int]] | None:
        """Each customer's (external_userid, status) once the task's staff member published the post; None while
        the job runs, the post waits to be published, or the job failed (the task is then ``failed``)."""
        creds = creds_of(tenant)
        msgid = task.msgid or ""
        if msgid.startswith(JOB_PREFIX):
            job = self.moments.get_moment_task_result(creds, jobid=msgid.removeprefix(JOB_PREFIX))
            if not job.done:
                return None
            if not job.moment_id:
                failed = replace(task, status="failed", reason=f"wecom_{job.errcode or 'moment_failed'}")
                self.repo.save_task(tenant.tenant_id, failed, expected_status=task.status)
                logger.warning("moment job failed", extra={"task": task.task_id, "errcode": job.errcode})
                return None
            task = replace(task, msgid=MOMENT_PREFIX + job.moment_id)
            if not self.repo.save_task(tenant.tenant_id, task, expected_status=task.status):
                return None  # moved on meanwhile: the next run reads it afresh
            self._untag(tenant, task)
        moment_id = (task.msgid or "").removeprefix(MOMENT_PREFIX)
        rows = _rows(lambda c: self.moments.get_moment_task(creds, moment_id=moment_id, cursor=c))
        if not any(r.get("userid") == task.userid and r.get("publish_status") == PUBLISHED for r in rows):
            return None
        seen = _rows(
            lambda c: self.moments.get_moment_customer_list(creds, moment_id=moment_id, userid=task.userid, cursor=c)
        )
        reached = _rows(
            lambda c: self.moments.get_moment_send_result(creds, moment_id=moment_id, userid=task.userid, cursor=c)
        )
        got = {str(r.get("external_userid") or "") for r in reached}
        visible = {str(r.get("external_userid") or "") for r in seen} | got
        return [(ext, SENT) for ext in sorted(got)] + [(ext, NOT_SENT) for ext in sorted(visible - got)]

    def _untag(self, tenant: Tenant, task: StaffTask) -> None:
        """The post exists, its audience fixed: the step's tag comes off the task's customers, so the step's next
        fire (the next cohort's post) is not shown to them again. Best effort: a customer who left is skipped, and
        an error leaves the rest for no one (a stale tag only widens a later post's audience)."""
        if not task.plan_id or not task.step_id:
            return
        creds, name = creds_of(tenant), step_tag_name(task.plan_id, task.step_id)
        try:
            tag_id = self.wecom.add_corp_tags(creds, group_name=TAG_GROUP, tag_names=[name]).tags[name]
            for cid in task.customer_ids:
                customer = self.repo.get_customer(tenant.tenant_id, cid)
                if customer is None:
                    continue
                try:
                    self.wecom.mark_tag(
                        creds,
                        userid=task.userid,
                        external_userid=customer.external_userid,
                        add_tag=[],
                        remove_tag=[tag_id],
                    )
                except WeComError as exc:
                    if exc.errcode != NOT_FRIEND:
                        raise
        except SiyuError as exc:
            logger.warning("moment tag not removed", extra={"task": task.task_id, "code": exc.code})


def _rows(fetch: Callable[[str], MomentPage]) -> list[dict[str, Any]]:
    return list(_pages(fetch))


def _pages(fetch: Callable[[str], MomentPage]) -> Iterator[dict[str, Any]]:
    """Rows of a cursor-paginated Moments list (bounded, never around a loop)."""
    cursor, seen = "", set()
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        yield from page.rows
        cursor = page.next_cursor
        if not cursor or cursor in seen:
            return
        seen.add(cursor)
