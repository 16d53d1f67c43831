"""What became of a Moments step's task (朋友圈, issue 14 §4), for task sync (task_sync.py): the job until WeCom made
the post, then whether the staff member published it and whom it reached.

- ``mj:<jobid>``: get_moment_task_result. Not done yet: asked again next run. Done with a moment_id: the task's
  msgid becomes ``mo:<moment_id>`` (a conditional save). Done without one: the task failed (``wecom_<errcode>``).
- ``mo:<moment_id>``: get_moment_task (publish_status of the task's staff member). Published: who could see it
  (get_moment_customer_list) and whom it reached (get_moment_send_result) become the customers' outcomes in the
  mass tasks' codes — reached 1 (sent), visible but not reached 0 (not_sent); a customer WeCom lists in neither
  (they could not be tagged: no longer the staff member's) stays unreachable — so the metrics and timelines read
  them as they read a mass task's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.observability import logger
from chalicelib.ports import MomentPage, MomentsPort, TaskRepository
from chalicelib.ports.moments import PUBLISHED
from chalicelib.services.sop.moments import JOB_PREFIX, MOMENT_PREFIX
from chalicelib.services.sop.rules import creds_of

MAX_PAGES = 50
SENT, NOT_SENT = 1, 0  # get_groupmsg_send_result's codes, which the task outcomes keep


class MomentSync:
    def __init__(self, repo: TaskRepository, moments: MomentsPort) -> None:
        self.repo = repo
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
