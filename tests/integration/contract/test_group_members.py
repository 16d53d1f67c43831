"""The group members' contract, on DynamoDB Local and on the fake: member records read by key and in tenant-bound
pages, history written once, the member index erasure follows (and loses once erased), and the group sync's job
claimed by one starter at a time and saved only from the step before."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.group_members import GroupMemberRepository as R
from chalicelib.domain.group_members import JOIN, LEAVE, GroupMember, MemberChange
from chalicelib.errors import InvalidError
from tests.integration.contract.registry import covers

M1 = GroupMember(key="k1", userid="wmA", state="ch_poster", invitor="zhang", join_time=100, join_scene=3,
                 customer_id="c_1")  # fmt: skip
M2 = GroupMember(key="k2", userid="li", type=1, join_time=100)


@covers(R.put_members, R.get_members, R.list_members)
def test_member_records_read_by_key_and_in_tenant_bound_pages(store: Any) -> None:
    store.put_members("acme", "wr1", [M1, M2, replace(M1, key="k3", userid="wmC")])
    store.put_members("acme", "wr2", [M1])
    store.put_members("other", "wr1", [M2])
    assert store.get_members("acme", "wr1", ["k1", "k2", "nope"]) == {"k1": M1, "k2": M2}
    left = replace(M1, in_group=False, left_time=200, quit_scene=0)
    store.put_members("acme", "wr1", [left])  # a record is rewritten as it is
    assert store.get_members("acme", "wr1", ["k1"]) == {"k1": left}
    first = store.list_members("acme", "wr1", cursor=None, limit=2)
    assert [m.key for m in first.items] == ["k1", "k2"] and first.next_cursor
    rest = store.list_members("acme", "wr1", cursor=first.next_cursor, limit=2)
    assert [m.key for m in rest.items] == ["k3"] and rest.next_cursor is None
    assert [m.key for m in store.list_members("other", "wr1", cursor=None, limit=10).items] == ["k2"]
    with pytest.raises(InvalidError):
        store.list_members("other", "wr1", cursor=first.next_cursor, limit=2)  # a cursor is bound to its group


@covers(R.add_member_change, R.member_changes)
def test_history_is_written_once_per_change(store: Any) -> None:
    join = MemberChange("k1", JOIN, 100, 3, userid="wmA", state="ch_poster", customer_id="c_1")
    leave = MemberChange("k1", LEAVE, 200, 0, userid="wmA")
    assert store.add_member_change("acme", "wr1", join)
    assert not store.add_member_change("acme", "wr1", replace(join, scene=0))  # a replay writes nothing new
    assert store.add_member_change("acme", "wr1", leave)
    assert store.add_member_change("acme", "wr1", MemberChange("k10", JOIN, 50))  # another member, same prefix
    assert store.member_changes("acme", "wr1", "k1") == [join, leave]
    assert store.member_changes("acme", "wr2", "k1") == [] and store.member_changes("other", "wr1", "k1") == []


@covers(R.member_chats, R.erase_group_member)
def test_erasure_leaves_records_without_identifiers_and_out_of_the_index(store: Any) -> None:
    for chat in ("wr1", "wr2"):
        store.put_members("acme", chat, [M1, M2])
        store.add_member_change("acme", chat, MemberChange("k1", JOIN, 100, 3, userid="wmA", customer_id="c_1"))
    store.put_members("other", "wr9", [M1])
    assert store.member_chats("acme", "k1") == ["wr1", "wr2"]
    assert store.erase_group_member("acme", "wr1", "k1") == 2
    record = store.get_members("acme", "wr1", ["k1"])["k1"]
    assert record.erased and record.userid == "" and record.customer_id == "" and record.state == "ch_poster"
    assert store.member_changes("acme", "wr1", "k1")[0].userid == ""
    assert store.member_chats("acme", "k1") == ["wr2"]
    assert store.get_members("acme", "wr1", ["k2"])["k2"] == M2  # the others are whole
    assert store.member_chats("other", "k1") == ["wr9"]
    assert store.erase_group_member("acme", "wr3", "k1") == 0


def _job(job_id: str, seq: int = 0, status: str = "running") -> dict[str, Any]:
    return {"job_id": job_id, "seq": seq, "status": status, "cursor": "", "pages": seq, "started": 1}


@covers(R.claim_group_sync, R.save_group_sync, R.get_group_sync, R.current_group_sync)
def test_one_group_sync_runs_at_a_time_and_advances_from_the_step_before(store: Any) -> None:
    assert store.current_group_sync("acme") is None
    assert store.claim_group_sync("acme", _job("gs_1")) == _job("gs_1")
    assert store.claim_group_sync("acme", _job("gs_2"))["job_id"] == "gs_1"  # one runs: the other start gets it
    assert store.get_group_sync("acme", "gs_2") is None
    assert store.save_group_sync("acme", {**_job("gs_1", 1), "cursor": "100"})
    assert not store.save_group_sync("acme", _job("gs_1", 1))  # a second worker on the same step loses
    assert not store.save_group_sync("acme", _job("gs_1", 3))
    assert store.get_group_sync("acme", "gs_1")["cursor"] == "100"
    assert store.save_group_sync("acme", _job("gs_1", 2, "done"))
    assert store.current_group_sync("acme") == _job("gs_1", 2, "done")
    assert store.claim_group_sync("acme", _job("gs_3"))["job_id"] == "gs_3"  # done: a new one may start
    assert store.current_group_sync("acme")["job_id"] == "gs_3"
    assert store.get_group_sync("acme", "gs_1")["status"] == "done"
    assert store.get_group_sync("other", "gs_1") is None and store.current_group_sync("other") is None
