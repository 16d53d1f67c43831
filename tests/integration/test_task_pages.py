"""Task listing pages (page_tasks), on DynamoDB Local and on the fake: every task once, in due order, across pages;
cursors opaque and bound to the tenant."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb import task_list
from chalicelib.domain.sop import StaffTask
from chalicelib.errors import InvalidError


def task(task_id: str, userid: str, minute: int, status: str = "created") -> StaffTask:
    due = f"2026-12-01T{10 + minute // 60:02d}:{minute % 60:02d}:00+08:00"
    return StaffTask(task_id, userid, "mass", status, due, "2026-12-01T09:00:00+08:00", ("c1", "c2"), "你好")


def pages(store: Any, tenant_id: str, limit: int, **filters: Any) -> list[list[StaffTask]]:
    """Follow next_cursor to the end; every page but the last hands one back."""
    query: dict[str, Any] = {"userid": None, "status": None, "due_from": None, "due_to": None, **filters}
    out, cursor = [], None
    for _ in range(50):
        page = store.page_tasks(tenant_id, cursor=cursor, limit=limit, **query)
        assert len(page.items) <= limit
        out.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("the cursor never ended")


@pytest.fixture
def seeded(store: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Seven tasks for zhang interleaved with li's, plus another tenant's; tiny Query rounds, so the DynamoDB store
    must carry its place across rounds and hand back short pages with a cursor."""
    monkeypatch.setattr(task_list, "FILTERED_READ", 2)
    monkeypatch.setattr(task_list, "MAX_QUERY_ROUNDS", 2)
    for i in range(7):
        assert store.create_task("acme", task(f"tk_z{i}", "zhang", 10 * i))
        assert store.create_task("acme", task(f"tk_l{i}a", "li", 10 * i + 1, status="sent"))
        assert store.create_task("acme", task(f"tk_l{i}b", "li", 10 * i + 2, status="sent"))
    assert store.create_task("other", task("tk_o", "zhang", 5))
    return store


def test_pages_cover_every_task_once_in_due_order(seeded: Any) -> None:
    everything = [t.task_id for p in pages(seeded, "acme", 4) for t in p]
    assert len(everything) == 21 and len(set(everything)) == 21
    assert everything == sorted(everything, key=lambda i: seeded.get_task("acme", i).due_at)
    zhang = pages(seeded, "acme", 3, userid="zhang")
    assert [t.task_id for p in zhang for t in p] == [f"tk_z{i}" for i in range(7)]
    assert all(t.customer_ids == ("c1", "c2") and t.text == "你好" for p in zhang for t in p)
    assert [t.task_id for p in pages(seeded, "acme", 100, status="created") for t in p] == [
        f"tk_z{i}" for i in range(7)
    ]


def test_an_exact_last_page_and_the_filters_still_apply(seeded: Any) -> None:
    whole = seeded.page_tasks(
        "acme", userid=None, status=None, due_from=None, due_to=None, cursor=None, limit=100
    )  # one page: nothing more to fetch, so no cursor
    assert len(whole.items) == 21 and whole.next_cursor is None
    window = pages(seeded, "acme", 2, due_from="2026-12-01T02:10:00Z", due_to="2026-12-01T02:32:00Z", userid="li")
    assert [t.task_id for p in window for t in p] == ["tk_l1a", "tk_l1b", "tk_l2a", "tk_l2b", "tk_l3a"]


def test_cursors_are_bound_to_the_tenant(seeded: Any) -> None:
    query: dict[str, Any] = {"userid": None, "status": None, "due_from": None, "due_to": None}
    first = seeded.page_tasks("acme", cursor=None, limit=1, **query)
    assert first.next_cursor
    with pytest.raises(InvalidError):
        seeded.page_tasks("other", cursor=first.next_cursor, limit=5, **query)
    with pytest.raises(InvalidError):
        seeded.page_tasks("acme", cursor="bm90LWpzb24", limit=5, **query)
    [theirs] = [t for p in pages(seeded, "other", 5) for t in p]
    assert theirs.task_id == "tk_o"


def test_a_cursor_reused_outside_its_due_range_is_refused(seeded: Any) -> None:
    query: dict[str, Any] = {"userid": None, "status": None, "due_to": None}
    late = seeded.page_tasks("acme", cursor=None, limit=2, due_from="2026-12-01T03:00:00Z", **query)
    assert late.next_cursor
    with pytest.raises(InvalidError):  # DynamoDB itself would answer a ValidationException: never a 5xx
        seeded.page_tasks(
            "acme", cursor=late.next_cursor, limit=2, due_from=None, **{**query, "due_to": "2026-12-01T02:05:00Z"}
        )
    again = seeded.page_tasks("acme", cursor=late.next_cursor, limit=2, due_from="2026-12-01T03:00:00Z", **query)
    assert [t.task_id for t in again.items] == ["tk_l6b"] and again.next_cursor is None
