"""Group setup on the fake store: filtered pages that resume exactly where they stopped, setup under its rev, and
the naming report judged page by page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.groups import DISMISSED, GroupState
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import Page
from chalicelib.services.groups.setup import GroupFilter, GroupService
from tests.fakes.store import FakeStore

TID = "rooms"


@pytest.fixture
def svc() -> GroupService:
    store = FakeStore()
    for n in range(30):
        name = f"XX教育·考研·{n % 3 + 1}期·{n:02d}" if n % 2 else f"乱起的名字{n}"
        state = GroupState(name=name, owner=f"s{n % 4}", status=DISMISSED if n % 5 == 0 else "active")
        assert store.save_group_state(TID, f"wr{n:02d}", state, expected_rev=0)
    return GroupService(store)


def _walk(page_of: Callable[[str | None, int], Page], limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = page_of(cursor, limit)
        assert len(page.items) <= limit
        seen += [i["chat_id"] if isinstance(i, dict) else i.chat_id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pages never ended")


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_a_filtered_listing_returns_every_match_once_in_order_whatever_the_page_size(
    svc: GroupService, limit: int
) -> None:
    flt = GroupFilter(status="active", staff="s1")
    expected = [f"wr{n:02d}" for n in range(30) if n % 5 and n % 4 == 1]
    assert _walk(lambda c, n: svc.list(TID, flt, cursor=c, limit=n), limit) == expected


def test_setup_is_written_under_its_rev_and_validated(svc: GroupService) -> None:
    group = svc.set_up(TID, "wr01", {"rev": 0, "type": "study", "cohort": "1期", "cohort_start": "2026-12-14"})
    assert group.setup.rev == 1 and svc.get(TID, "wr01").setup == group.setup
    with pytest.raises(ConflictError) as stale:
        svc.set_up(TID, "wr01", {"rev": 0, "type": "sales"})
    assert stale.value.details == {"rev": 1}
    with pytest.raises(InvalidError, match="cohort_start"):
        svc.set_up(TID, "wr01", {"rev": 1, "cohort_start": "2026-13-01"})
    with pytest.raises(NotFoundError):
        svc.set_up(TID, "wr99", {"rev": 0})
    with pytest.raises(NotFoundError):
        svc.get(TID, "wr01", staff="s2")  # not theirs
    assert svc.get(TID, "wr01", staff="s1").chat_id == "wr01"


@pytest.mark.parametrize("limit", [1, 4, 100])
def test_the_naming_report_lists_each_active_breaking_group_once(svc: GroupService, limit: int) -> None:
    with pytest.raises(ConflictError, match="no group naming template"):
        svc.naming_report(TID, cursor=None, limit=limit)
    svc.set_naming(TID, {"institution": "XX教育"})
    expected = [f"wr{n:02d}" for n in range(30) if n % 2 == 0 and n % 5]
    assert _walk(lambda c, n: svc.naming_report(TID, cursor=c, limit=n), limit) == expected
    assert svc.render_name(TID, "考研", "2", "3") == "XX教育·考研·2期·03"
    with pytest.raises(InvalidError, match="separator"):
        svc.set_naming(TID, {"institution": "XX教育", "separator": "x"})
    assert svc.naming(TID) == replace(NamingTemplate(), institution="XX教育")
