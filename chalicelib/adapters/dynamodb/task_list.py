"""Task listing pages from the tenant's tasks index (gsi1 ``T#{tenant}#TASKS``, sorted ``<due UTC>#<task_id>``),
page by page with an opaque tenant-bound cursor, so a long list is never cut off silently (for
``StaffTaskRepository.page_tasks``)."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import Raw
from chalicelib.adapters.dynamodb.cursors import MAX_QUERY_ROUNDS, decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.models import SiyuItem, TaskItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.errors import InvalidError

__all__ = ["FILTERED_READ", "MAX_QUERY_ROUNDS", "heads"]

INDEX_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk")
FILTERED_READ = 200  # index items read per Query round when a filter may drop most of them


def _start_key(cursor: str | None, partition: str, low: str, high: str) -> Raw | None:
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


def heads(
    tenant_id: str,
    userid: str | None,
    status: str | None,
    due_from: str | None,
    due_to: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[TaskItem], str | None]:
    """Task heads in due order from ``cursor`` until ``limit`` are found or the rounds run out, and the cursor
    of the next page (the key of the last head returned)."""
    gpk = k.tasks_index_pk(tenant_id)
    low, high = due_from or "0", due_to or "~"
    filters: Condition | None = None
    if userid:
        filters = TaskItem.userid == userid
    if status:
        filters = (TaskItem.status == status) if filters is None else filters & (TaskItem.status == status)
    found: list[Raw] = []
    last = _start_key(cursor, gpk, low, high)
    with translate():
        for _ in range(MAX_QUERY_ROUNDS):
            page: dict[str, Any] = next(
                SiyuItem.gsi1.query(
                    gpk,
                    SiyuItem.gsi1sk.between(low, high),
                    filter_condition=filters,
                    page_size=FILTERED_READ if filters is not None else limit - len(found),
                    last_evaluated_key=last,
                ).page_iter
            )
            items = page.get("Items", [])
            for i, raw in enumerate(items):
                found.append(raw)
                if len(found) == limit:
                    more = i + 1 < len(items) or "LastEvaluatedKey" in page
                    return _items(found), encode_cursor({a: raw[a] for a in INDEX_ATTRS}) if more else None
            last = page.get("LastEvaluatedKey")
            if not last:
                return _items(found), None
    return _items(found), encode_cursor(last) if last else None


def _items(raws: list[Raw]) -> list[TaskItem]:
    return [TaskItem.from_raw_data(raw) for raw in raws]
