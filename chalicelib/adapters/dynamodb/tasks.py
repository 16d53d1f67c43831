"""Staff tasks: a small head in the tasks index, the recipients beside it, and the sync cursor.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- task: ``T#<tid>#TASK#<task_id>`` / ``TASK`` (the head, ``TaskItem``), in gsi1 at ``T#<tid>#TASKS`` /
  ``<due UTC>#<task_id>``; its recipients' subject ids in ``RCPT`` beside it (``TaskRecipientsItem``), in no index
- task sync cursor: ``T#<tid>#TASKSYNC`` / ``CURSOR`` (``TaskSyncItem``, where the status sync resumes)

Listing pages: task_list.py; erasure's part (a recipient out of a task): task_erasure.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import task_erasure, task_list
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem, TaskItem, TaskRecipientsItem, TaskSyncItem
from chalicelib.adapters.dynamodb.sop_table import dump, ttl_after
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import StaffTask
from chalicelib.ports import Page

TASK_TTL_DAYS = 180


def task_of(head: TaskItem, recipients: TaskRecipientsItem | None) -> StaffTask:
    """A task from its head and its recipients item."""
    data = json.loads(head.doc or "{}")
    legacy = tuple(data.pop("customer_ids", ()))  # written before recipients had their own item
    if recipients is not None:
        data["recipients"] = tuple(recipients.ids.split(",")) if recipients.ids else ()
    else:
        data["recipients"] = legacy
    return StaffTask(**data)


def _head(tenant_id: str, task: StaffTask) -> TaskItem:
    """The task's head: everything but its recipients, small, and the only item in the tasks index."""
    doc = asdict(task)
    del doc["recipients"]
    return TaskItem(
        pk=k.task_pk(tenant_id, task.task_id),
        sk=k.TASK_SK,
        status=task.status,
        userid=task.userid,
        n=len(task.recipients),
        doc=dump(doc),
        gsi1pk=k.tasks_index_pk(tenant_id),
        gsi1sk=k.tasks_index_sk(utc_key(datetime.fromisoformat(task.due_at)), task.task_id),
        expires_at=ttl_after(task.due_at, TASK_TTL_DAYS),
    )


def _recipients(tenant_id: str, task: StaffTask) -> TaskRecipientsItem:
    """The task's recipients (up to 10,000 subject ids: ~200 KB), beside the head and outside every index, so
    saving a status or listing tasks never rewrites or reads them."""
    return TaskRecipientsItem(
        pk=k.task_pk(tenant_id, task.task_id),
        sk=k.TASK_RECIPIENTS_SK,
        ids=",".join(task.recipients),
        expires_at=ttl_after(task.due_at, TASK_TTL_DAYS),
    )


class StaffTaskRepository(DynamoBase):
    """Staff tasks, their listing pages, the sync cursor and erasure's part in them."""

    def create_task(self, tenant_id: str, task: StaffTask) -> bool:
        """Claim a task id once (False if it exists: the caller looks at what is there). The recipients go first,
        so a head is never seen without them."""
        recipients, head = _recipients(tenant_id, task), _head(tenant_id, task)
        # A fire's task is created naming no one (its claims name it): no recipients item until it has some.
        if task.recipients and not self.conditional(lambda: recipients.save(condition=SiyuItem.pk.does_not_exist())):
            return False
        return self.conditional(lambda: head.save(condition=SiyuItem.pk.does_not_exist()))

    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None:
        """Head and recipients in one strongly consistent Query of the task's partition."""
        head, recipients = self._task_items(tenant_id, task_id)
        return task_of(head, recipients) if head is not None else None

    def _task_items(self, tenant_id: str, task_id: str) -> tuple[TaskItem | None, TaskRecipientsItem | None]:
        """The task's head and recipients items as they are now (one strongly consistent Query)."""
        items, _ = self.query(SiyuItem, k.task_pk(tenant_id, task_id), consistent=True)
        head = next((i for i in items if isinstance(i, TaskItem)), None)
        return head, next((i for i in items if isinstance(i, TaskRecipientsItem)), None)

    def save_task(self, tenant_id: str, task: StaffTask, *, expected_status: str, recipients: bool = False) -> bool:
        """Save the head if its status is still ``expected_status``; the recipients only when they changed
        (``recipients``: a concurrent fire claimed some of them first)."""
        head = _head(tenant_id, task)
        saved = self.conditional(lambda: head.save(condition=TaskItem.status == expected_status))
        if saved and recipients:
            with translate():
                _recipients(tenant_id, task).save()
        return saved

    def get_task_sync_cursor(self, tenant_id: str) -> str | None:
        """Where the task status sync resumes (a tasks-index key ``<due UTC>#<task_id>``); None: from the start."""
        item = self.get(TaskSyncItem, k.task_sync_pk(tenant_id), k.CURSOR_SK, consistent=True)
        return item.cursor if item else None

    def put_task_sync_cursor(self, tenant_id: str, cursor: str | None) -> None:
        """Save where the sync resumes (None: from the start next time)."""
        with translate():
            TaskSyncItem(pk=k.task_sync_pk(tenant_id), sk=k.CURSOR_SK, cursor=cursor or None).save()

    def list_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        limit: int,
    ) -> list[StaffTask]:
        """Up to ``limit`` tasks in due order, following pages as far as needed (for jobs, not for the API)."""
        tasks: list[StaffTask] = []
        cursor = None
        while len(tasks) < limit:
            page = self.page_tasks(
                tenant_id,
                userid=userid,
                status=status,
                due_from=due_from,
                due_to=due_to,
                cursor=cursor,
                limit=limit - len(tasks),
            )
            tasks += page.items
            cursor = page.next_cursor
            if not cursor:
                break
        return tasks

    def page_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """One page of at most ``limit`` tasks in due order. The cursor is the last task returned, so a filtered
        read that fills the page mid-way resumes right after it; ``next_cursor`` is None only when the index has
        nothing more in range (a page may come back short, even empty, with a cursor when the filter dropped a
        long run of tasks: the caller keeps going)."""
        heads, next_cursor = task_list.heads(tenant_id, userid, status, due_from, due_to, cursor, limit)
        wanted = [(h.pk, k.TASK_RECIPIENTS_SK) for h in heads if h.n is not None]  # heads without ids in their doc
        found = self.batch_get(wanted)
        tasks = [
            task_of(h, TaskRecipientsItem.from_raw_data(r) if (r := found.get((h.pk, k.TASK_RECIPIENTS_SK))) else None)
            for h in heads
        ]
        return Page(tasks, next_cursor)

    def drop_recipient(self, tenant_id: str, task_id: str, customer_id: str) -> bool:
        """Take the customer out of a task's recipients and their character out of its synced outcomes (matched by
        position), in one transaction conditional on both as read, retried; a follow-up task about this customer
        alone is deleted whole. True if anything changed."""
        for _ in range(5):
            head, recipients = self._task_items(tenant_id, task_id)
            outcome = task_erasure.drop_once(self.connection, head, recipients, task_id, customer_id)
            if outcome is not None:
                return outcome
        return False
