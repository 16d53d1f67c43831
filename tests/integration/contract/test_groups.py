"""The customer-group contract, on DynamoDB Local and on the fake: two halves under their own revisions, so a
callback's write and an ops edit never overwrite each other; batch reads and tenant-bound pages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.groups import GroupRepository as R
from chalicelib.domain.groups import DISMISSED, GroupSetup, GroupState
from chalicelib.errors import InvalidError
from tests.integration.contract.registry import covers

NAME = "XX教育·考研数学冲刺·3期·01"
STATE = GroupState(name=NAME, owner="zhang", admins=("li",), member_count=3, member_version="v1")
SETUP = GroupSetup(type="study", cohort="3期", cohort_start="2026-12-14", number="01", kols=("wm_a",), tags=("数学",))


@covers(R.save_group_state, R.save_group_setup, R.get_group)
def test_each_half_is_written_under_its_own_revision_and_keeps_the_other(store: Any) -> None:
    assert store.get_group("acme", "wr1") is None
    assert store.save_group_setup("acme", "wr1", SETUP, expected_rev=0)  # ops may set a group up first
    assert store.save_group_state("acme", "wr1", STATE, expected_rev=0)
    group = store.get_group("acme", "wr1", consistent=True)
    assert group.state == replace(STATE, rev=1) and group.setup == replace(SETUP, rev=1)
    assert group.known_to_wecom and group.active
    assert not store.save_group_state("acme", "wr1", STATE, expected_rev=0)  # a stale writer loses
    assert not store.save_group_setup("acme", "wr1", SETUP, expected_rev=0)
    dismissed = replace(STATE, status=DISMISSED, member_version="v2")
    assert store.save_group_state("acme", "wr1", dismissed, expected_rev=1)
    group = store.get_group("acme", "wr1", consistent=True)
    assert group.state == replace(dismissed, rev=2) and group.setup == replace(SETUP, rev=1) and not group.active
    assert store.get_group("other", "wr1") is None  # tenants never meet


@covers(R.get_groups, R.list_groups)
def test_groups_read_in_batches_and_list_in_tenant_bound_pages(store: Any) -> None:
    for n in range(5):
        assert store.save_group_state("acme", f"wr{n}", replace(STATE, name=f"g{n}"), expected_rev=0)
    store.save_group_setup("other", "wr9", SETUP, expected_rev=0)
    found = store.get_groups("acme", ["wr1", "wr3", "wr1", "nope", "wr9"])
    assert sorted(found) == ["wr1", "wr3"] and found["wr3"].state.name == "g3"
    first = store.list_groups("acme", cursor=None, limit=3)
    assert [g.chat_id for g in first.items] == ["wr0", "wr1", "wr2"] and first.next_cursor
    rest = store.list_groups("acme", cursor=first.next_cursor, limit=3)
    assert [g.chat_id for g in rest.items] == ["wr3", "wr4"] and rest.next_cursor is None
    with pytest.raises(InvalidError):
        store.list_groups("other", cursor=first.next_cursor, limit=3)  # a cursor is bound to its tenant
