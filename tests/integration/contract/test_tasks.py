"""The staff task contract, on DynamoDB Local and on the fake: a task id claimed once, saves guarded by status, the
recipients saved only when asked, pages in due order, the sync cursor, and erasure's part (the rest is in
tests/integration/test_sop_subject_store.py and test_task_pages.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.tasks import StaffTaskRepository as R
from chalicelib.domain.sop import StaffTask
from chalicelib.errors import InvalidError
from tests.integration.contract.registry import covers

AT = "2026-12-01T09:00:00+08:00"


def task(task_id: str, minute: int = 0, *, userid: str = "zhang", status: str = "created", **kw: Any) -> StaffTask:
    due = f"2026-12-01T10:{minute:02d}:00+08:00"
    return StaffTask(task_id, userid, "mass", status, due, AT, kw.pop("recipients", ("c1", "c2")), "你好", **kw)


@covers(R.create_task, R.get_task, R.save_task)
def test_a_task_id_is_claimed_once_and_saves_are_guarded_by_status(store: Any) -> None:
    t = task("tk_1")
    assert store.get_task("acme", "tk_1") is None
    assert store.create_task("acme", t)
    assert not store.create_task("acme", replace(t, userid="li"))  # once
    assert store.get_task("acme", "tk_1") == t and store.get_task("other", "tk_1") is None
    sent = replace(t, status="sent", recipients=("c1",))
    assert not store.save_task("acme", sent, expected_status="claimed")
    assert store.save_task("acme", sent, expected_status="created")
    assert store.get_task("acme", "tk_1") == replace(sent, recipients=("c1", "c2"))  # recipients only when asked
    confirmed = replace(t, status="confirmed", recipients=("c2",))
    assert store.save_task("acme", confirmed, expected_status="sent", recipients=True)
    assert store.get_task("acme", "tk_1") == confirmed
    assert not store.save_task("acme", replace(t, task_id="tk_9"), expected_status="created")  # no such task


@covers(R.page_tasks, R.list_tasks)
def test_pages_follow_due_order_with_filters_and_tenant_bound_cursors(store: Any) -> None:
    for i in range(5):
        store.create_task("acme", task(f"tk_{i}", 10 * i, userid="zhang" if i % 2 else "li"))
    store.create_task("other", task("tk_o", 5))
    query: dict[str, Any] = {"userid": None, "status": None, "due_from": None, "due_to": None}
    first = store.page_tasks("acme", cursor=None, limit=3, **query)
    assert [t.task_id for t in first.items] == ["tk_0", "tk_1", "tk_2"] and first.next_cursor
    rest = store.page_tasks("acme", cursor=first.next_cursor, limit=3, **query)
    assert [t.task_id for t in rest.items] == ["tk_3", "tk_4"] and rest.next_cursor is None
    assert all(t.recipients == ("c1", "c2") for t in first.items + rest.items)
    with pytest.raises(InvalidError):
        store.page_tasks("other", cursor=first.next_cursor, limit=3, **query)
    zhang = store.page_tasks("acme", cursor=None, limit=5, **{**query, "userid": "zhang"})
    assert [t.task_id for t in zhang.items] == ["tk_1", "tk_3"] and zhang.next_cursor is None
    listed = store.list_tasks("acme", **{**query, "userid": "li"}, limit=2)
    assert [t.task_id for t in listed] == ["tk_0", "tk_2"]


@covers(R.get_task_sync_cursor, R.put_task_sync_cursor)
def test_the_sync_cursor_is_per_tenant_and_can_be_cleared(store: Any) -> None:
    assert store.get_task_sync_cursor("acme") is None
    store.put_task_sync_cursor("acme", "2026-12-01T02:00:00Z#tk_1")
    assert store.get_task_sync_cursor("acme") == "2026-12-01T02:00:00Z#tk_1"
    assert store.get_task_sync_cursor("other") is None
    store.put_task_sync_cursor("acme", None)
    assert store.get_task_sync_cursor("acme") is None


@covers(R.drop_recipient)
def test_erasure_drops_a_recipient_with_their_outcome_and_a_lone_follow_up_whole(store: Any) -> None:
    store.create_task("acme", task("tk_1", recipients=("c1", "c2", "c3"), outcomes="sfs"))
    assert store.drop_recipient("acme", "tk_1", "c2")
    dropped = store.get_task("acme", "tk_1")
    assert (dropped.recipients, dropped.outcomes) == (("c1", "c3"), "ss")
    assert not store.drop_recipient("acme", "tk_1", "c2")  # not a recipient any more
    assert not store.drop_recipient("acme", "tk_9", "c1")  # no such task
    store.create_task("acme", task("fu_1", recipients=("c1",)))
    assert store.drop_recipient("acme", "fu_1", "c1")
    assert store.get_task("acme", "fu_1") is None
    store.create_task("acme", task("tk_2", recipients=("c1",)))
    assert store.drop_recipient("acme", "tk_2", "c1")  # a task that is not a follow-up stays, empty
    assert store.get_task("acme", "tk_2").recipients == ()
