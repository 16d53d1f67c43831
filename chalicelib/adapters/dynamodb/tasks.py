"""Storage of staff tasks: a small head in the tasks index, the recipients beside it, and the sync cursor.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- task: ``T#<tid>#TASK#<task_id>`` / ``TASK`` (the head), in gsi1 at ``T#<tid>#TASKS`` / ``<due UTC>#<task_id>``;
  its recipients' subject ids in ``RCPT`` beside it, in no index
- task sync cursor: ``T#<tid>#TASKSYNC`` / ``CURSOR`` (where the status sync resumes)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.sop_table import SopTableMixin, json_attr, string_attr, ttl_after
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import StaffTask

TASK_TTL_DAYS = 180


def task_of(item: dict[str, Any], recipients: dict[str, Any] | None) -> StaffTask:
    """A task from its head and its recipients item."""
    data = json.loads(item["doc"]["S"])
    legacy = tuple(data.pop("customer_ids", ()))  # written before recipients had their own item
    if recipients is not None:
        ids = recipients["ids"]["S"]
        data["recipients"] = tuple(ids.split(",")) if ids else ()
    else:
        data["recipients"] = legacy
    return StaffTask(**data)


class TaskStoreMixin(SopTableMixin):
    """Staff task repository methods of DynamoStore (listing: task_list.py; erasure: task_erasure.py)."""

    def _task_item(self, tenant_id: str, task: StaffTask) -> dict[str, Any]:
        """The task's head: everything but its recipients, small, and the only item in the tasks index."""
        due = utc_key(datetime.fromisoformat(task.due_at))
        head = asdict(task)
        del head["recipients"]
        return {
            "pk": string_attr(k.task_pk(tenant_id, task.task_id)),
            "sk": string_attr(k.TASK_SK),
            "kind": string_attr("task"),
            "status": string_attr(task.status),
            "userid": string_attr(task.userid),
            "n": {"N": str(len(task.recipients))},
            "doc": json_attr(head),
            "gsi1pk": string_attr(k.tasks_index_pk(tenant_id)),
            "gsi1sk": string_attr(k.tasks_index_sk(due, task.task_id)),
            "expires_at": ttl_after(task.due_at, TASK_TTL_DAYS),
        }

    def _recipients_item(self, tenant_id: str, task: StaffTask) -> dict[str, Any]:
        """The task's recipients (up to 10,000 subject ids: ~200 KB), beside the head and outside every index, so
        saving a status or listing tasks never rewrites or reads them."""
        return {
            "pk": string_attr(k.task_pk(tenant_id, task.task_id)),
            "sk": string_attr(k.TASK_RECIPIENTS_SK),
            "kind": string_attr("task_recipients"),
            "ids": string_attr(",".join(task.recipients)),
            "expires_at": ttl_after(task.due_at, TASK_TTL_DAYS),
        }

    def create_task(self, tenant_id: str, task: StaffTask) -> bool:
        """Claim a task id once (False if it exists: the caller looks at what is there). The recipients go first,
        so a head is never seen without them."""
        if not self.conditional(
            "put_item",
            Item=self._recipients_item(tenant_id, task),
            ConditionExpression="attribute_not_exists(pk)",
        ):
            return False
        return self.conditional(
            "put_item", Item=self._task_item(tenant_id, task), ConditionExpression="attribute_not_exists(pk)"
        )

    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None:
        """Head and recipients in one strongly consistent Query of the task's partition."""
        items = self.table_request(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": string_attr(k.task_pk(tenant_id, task_id))},
            ConsistentRead=True,
        ).get("Items", [])
        by_sk = {i["sk"]["S"]: i for i in items}
        if k.TASK_SK not in by_sk:
            return None
        return task_of(by_sk[k.TASK_SK], by_sk.get(k.TASK_RECIPIENTS_SK))

    @staticmethod
    def _task(item: dict[str, Any], recipients: dict[str, Any] | None) -> StaffTask:
        return task_of(item, recipients)

    def save_task(self, tenant_id: str, task: StaffTask, *, expected_status: str, recipients: bool = False) -> bool:
        """Save the head if its status is still ``expected_status``; the recipients only when they changed
        (``recipients``: a concurrent fire claimed some of them first)."""
        saved = self.conditional(
            "put_item",
            Item=self._task_item(tenant_id, task),
            ConditionExpression="#st = :st",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":st": string_attr(expected_status)},
        )
        if saved and recipients:
            self.table_request("put_item", Item=self._recipients_item(tenant_id, task))
        return saved

    def get_task_sync_cursor(self, tenant_id: str) -> str | None:
        """Where the task status sync resumes (a tasks-index key ``<due UTC>#<task_id>``); None: from the start."""
        key = {"pk": string_attr(k.task_sync_pk(tenant_id)), "sk": string_attr(k.CURSOR_SK)}
        item = self.table_request("get_item", Key=key, ConsistentRead=True).get("Item")
        return item["cursor"]["S"] if item and "cursor" in item else None

    def put_task_sync_cursor(self, tenant_id: str, cursor: str | None) -> None:
        item: dict[str, Any] = {
            "pk": string_attr(k.task_sync_pk(tenant_id)),
            "sk": string_attr(k.CURSOR_SK),
            "kind": string_attr("task_sync"),
        }
        if cursor:
            item["cursor"] = string_attr(cursor)
        self.table_request("put_item", Item=item)
