"""Listing staff tasks from the tenant's tasks index (gsi1 ``T#{tenant}#TASKS``, sorted ``<due UTC>#<task_id>``),
page by page with an opaque tenant-bound cursor, so a long list is never cut off silently."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.cursors import MAX_QUERY_ROUNDS, decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.keys import tasks_index_pk
from chalicelib.adapters.dynamodb.sop_table import SopTableMixin
from chalicelib.adapters.dynamodb.tasks import task_of
from chalicelib.domain.sop import StaffTask
from chalicelib.errors import InvalidError
from chalicelib.ports import Page

INDEX_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk")
FILTERED_READ = 200  # index items read per Query round when a filter may drop most of them


def _start_key(cursor: str | None, partition: str, low: str, high: str) -> dict[str, Any] | None:
    """The cursor as an ExclusiveStartKey, checked whole: a forged or reshaped key, or one outside the due range
    asked for (a cursor reused with other filters), is a 400 here rather than a DynamoDB ValidationException."""
    key = decode_cursor(cursor, partition_attr="gsi1pk", partition=partition)
    if key is None:
        return None
    shaped = set(key) == set(INDEX_ATTRS) and all(
        isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()
    )
    if not shaped or not low <= key["gsi1sk"]["S"] <= high or key["sk"]["S"] != k.TASK_SK:
        raise InvalidError("cursor is not valid")
    return key


class TaskListMixin(SopTableMixin):
    if TYPE_CHECKING:  # SopStoreMixin, DynamoStore

        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...

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
        gpk = tasks_index_pk(tenant_id)
        values: dict[str, Any] = {":g": {"S": gpk}, ":a": {"S": due_from or "0"}, ":b": {"S": due_to or "~"}}
        filters, names = [], {}
        if userid:
            filters.append("userid = :u")
            values[":u"] = {"S": userid}
        if status:
            filters.append("#st = :st")
            names["#st"] = "status"
            values[":st"] = {"S": status}
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :g AND gsi1sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": values,
        }
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        start = _start_key(cursor, gpk, values[":a"]["S"], values[":b"]["S"])
        heads, last = self._heads(kwargs, start, limit)
        wanted = [(h["pk"]["S"], k.TASK_RECIPIENTS_SK) for h in heads if "n" in h]  # heads without ids in their doc
        recipients = self._batch_get(wanted)
        tasks = [task_of(h, recipients.get((h["pk"]["S"], k.TASK_RECIPIENTS_SK))) for h in heads]
        return Page(tasks, encode_cursor(last) if last else None)

    def _heads(
        self, kwargs: dict[str, Any], start: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Task heads from ``start`` until ``limit`` are found or the rounds run out, and where to resume."""
        heads: list[dict[str, Any]] = []
        last = start
        for _ in range(MAX_QUERY_ROUNDS):
            kwargs["Limit"] = FILTERED_READ if "FilterExpression" in kwargs else limit - len(heads)
            if last:
                kwargs["ExclusiveStartKey"] = last
            resp = self.table_request("query", **kwargs)
            items = resp.get("Items", [])
            for i, raw in enumerate(items):
                heads.append(raw)
                if len(heads) == limit:
                    more = i + 1 < len(items) or "LastEvaluatedKey" in resp
                    return heads, {a: raw[a] for a in INDEX_ATTRS} if more else None
            last = resp.get("LastEvaluatedKey")
            if not last:
                return heads, None
        return heads, last
