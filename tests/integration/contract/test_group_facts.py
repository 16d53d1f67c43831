"""The group facts contract, on DynamoDB Local and on the fake: a fact counts once per identity (replayed or
concurrent), a first occurrence once per member and local day, last-spoke only moves forward, and a window reads
only the activity records of members who spoke in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.group_facts import GroupFactRepository as R
from chalicelib.domain.group_facts import CHECKIN_FACT, JOIN, MESSAGE, VIA, GroupFact, MemberActivity, Via
from tests.integration.contract.registry import covers

T0 = 1_796_100_000  # 2026-12-01 in Shanghai


def msg(ref: str, member: str, at: int = T0, date: str = "2026-12-01", chat: str = "wr1") -> GroupFact:
    return GroupFact(chat, MESSAGE, ref, date, at, (("messages", 1),), first="speaker", member=member, spoke=True)


@contextmanager
def items_read(store: Any) -> Iterator[list[int]]:
    """How many items the store's Queries read (DynamoDB's ScannedCount; the fake counts its index reads)."""
    read: list[int] = []
    if hasattr(store, "activity_reads"):
        before = store.activity_reads
        yield read
        read.append(store.activity_reads - before)
        return
    events = store.client.meta.events

    def seen(parsed: dict[str, Any], **_: Any) -> None:
        read.append(int(parsed.get("ScannedCount", 0)))

    events.register("after-call.dynamodb.Query", seen)
    try:
        yield read
    finally:
        events.unregister("after-call.dynamodb.Query", seen)


@covers(R.record_group_fact, R.group_day_counters)
def test_a_fact_counts_once_per_identity_and_a_speaker_once_per_day(store: Any) -> None:
    assert store.record_group_fact("acme", msg("r1", "c1"))
    assert not store.record_group_fact("acme", msg("r1", "c1", at=T0 + 60))  # a replay, whatever its time
    assert store.record_group_fact("acme", msg("r2", "c1", at=T0 + 30))
    assert store.record_group_fact("acme", msg("r3", "c2"))
    assert store.record_group_fact("acme", msg("r4", "c1", at=T0 + 86_400, date="2026-12-02"))
    checkin = GroupFact("wr1", CHECKIN_FACT, "r1", "2026-12-01", T0, (("checkins", 1),), first="completer", member="c1")
    assert store.record_group_fact("acme", checkin)  # the same ref as a message: another fact
    join = GroupFact("wr1", JOIN, "j1", "2026-12-01", T0, (("joins", 1), ("join#3", 1), ("joins_with_account", 1)))
    assert store.record_group_fact("acme", join) and not store.record_group_fact("acme", join)
    days = store.group_day_counters("acme", "wr1", "2026-11-30", "2026-12-02")
    assert days == {
        "2026-12-01": {"messages": 3, "speakers": 2, "checkins": 1, "completers": 1, "joins": 1, "join#3": 1,
                       "joins_with_account": 1},
        "2026-12-02": {"messages": 1, "speakers": 1},
    }  # fmt: skip
    assert store.group_day_counters("acme", "wr1", "2026-12-02", "2026-12-03") == {"2026-12-02": days["2026-12-02"]}
    assert store.group_day_counters("acme", "wr2", "2026-11-30", "2026-12-02") == {}
    assert store.group_day_counters("other", "wr1", "2026-11-30", "2026-12-02") == {}  # tenants never meet
    assert store.record_group_fact("other", msg("r1", "c1"))  # the same identity in another tenant is its own


@covers(R.record_group_fact)
def test_concurrent_duplicates_and_concurrent_messages_of_one_member(store: Any) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def deliver(fact: GroupFact) -> None:
        barrier.wait()
        results.append(store.record_group_fact("acme", fact))

    facts = [msg("same", "c1")] * 3 + [msg(f"r{n}", "c1", at=T0 + n) for n in range(1, 4)]
    threads = [threading.Thread(target=deliver, args=(f,)) for f in facts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, True, True, True, True]
    assert store.group_day_counters("acme", "wr1", "2026-12-01", "2026-12-01")["2026-12-01"] == {
        "messages": 4,
        "speakers": 1,
    }
    assert store.group_activity_since("acme", "wr1", T0 - 1) == [MemberActivity("c1", T0 + 3, 4)]


@covers(R.group_activity_since)
def test_last_spoke_moves_only_forward_and_a_window_reads_only_who_spoke_in_it(store: Any) -> None:
    week_ago = T0 - 7 * 86_400
    for n in range(12):  # silent: spoke twenty days ago
        assert store.record_group_fact("acme", msg(f"old{n}", f"s{n:02d}", at=T0 - 20 * 86_400, date="2026-11-11"))
    for n in range(3):
        assert store.record_group_fact("acme", msg(f"new{n}", f"a{n}", at=T0 - n * 3600))
    assert store.record_group_fact("acme", msg("late", "a0", at=T0 - 30 * 86_400, date="2026-11-01"))  # older
    assert store.record_group_fact("acme", msg("back", "s00", at=T0 - 100))  # a silent member speaks again
    with items_read(store) as read:
        active = store.group_activity_since("acme", "wr1", week_ago)
    assert sum(read) == 4  # the four who spoke this week; none of the eleven silent ones
    assert active == [
        MemberActivity("a0", T0, 2),
        MemberActivity("s00", T0 - 100, 2),
        MemberActivity("a1", T0 - 3600, 1),
        MemberActivity("a2", T0 - 7200, 1),
    ]
    assert store.group_activity_since("acme", "wr1", T0 + 1) == []
    assert len(store.group_activity_since("acme", "wr1", T0 - 21 * 86_400)) == 15
    assert store.group_activity_since("other", "wr1", week_ago) == []


@covers(R.set_group_members, R.group_members_before)
def test_the_days_member_count_is_the_latest_taken(store: Any) -> None:
    assert store.set_group_members("acme", "wr1", date="2026-11-20", count=40, at=T0 - 11 * 86_400)
    assert store.set_group_members("acme", "wr1", date="2026-11-28", count=43, at=T0 - 3 * 86_400 + 60)
    assert not store.set_group_members("acme", "wr1", date="2026-11-28", count=42, at=T0 - 3 * 86_400)  # older
    assert store.set_group_members("acme", "wr1", date="2026-11-28", count=44, at=T0 - 3 * 86_400 + 60)  # again
    assert store.record_group_fact("acme", msg("r1", "c1", date="2026-11-30"))  # a day without a count
    assert store.group_day_counters("acme", "wr1", "2026-11-28", "2026-11-28") == {"2026-11-28": {"members": 44}}
    assert store.group_members_before("acme", "wr1", "2026-12-01") == 44  # skips the day without a count
    assert store.group_members_before("acme", "wr1", "2026-11-28") == 40
    assert store.group_members_before("acme", "wr1", "2026-11-20") is None
    assert store.group_members_before("other", "wr1", "2026-12-01") is None


@covers(R.get_group_activity_window, R.set_group_activity_window)
def test_the_tenants_default_window(store: Any) -> None:
    assert store.get_group_activity_window("acme") is None
    store.set_group_activity_window("acme", 14)
    store.set_group_activity_window("acme", 10)
    assert store.get_group_activity_window("acme") == 10
    assert store.get_group_activity_window("other") is None


@covers(R.erase_group_activity)
def test_erasing_a_member_deletes_their_records_in_every_group_and_keeps_the_counts(store: Any) -> None:
    assert store.record_group_fact("acme", msg("r1", "c1"))
    assert store.record_group_fact("acme", msg("r2", "c1", at=T0 + 86_400, date="2026-12-02"))
    assert store.record_group_fact("acme", msg("r3", "c1", chat="wr2"))
    checkin = GroupFact("wr3", CHECKIN_FACT, "k1", "2026-12-01", T0, (("checkins", 1),), first="completer", member="c1")
    assert store.record_group_fact("acme", checkin)
    assert store.record_group_fact("acme", msg("r4", "c2"))
    assert store.erase_group_activity("acme", "c1") == 3
    assert store.group_activity_since("acme", "wr1", 0) == [MemberActivity("c2", T0, 1)]
    assert store.group_activity_since("acme", "wr2", 0) == []
    assert store.group_day_counters("acme", "wr1", "2026-12-01", "2026-12-02") == {
        "2026-12-01": {"messages": 2, "speakers": 2},
        "2026-12-02": {"messages": 1, "speakers": 1},
    }  # anonymous counts stay
    assert not store.record_group_fact("acme", msg("r1", "c1"))  # a fact's marker names no one: it stays
    assert store.erase_group_activity("acme", "c1") == 0  # a repeat finds nothing
    assert store.erase_group_activity("acme", "c2") == 1 and store.group_activity_since("acme", "wr1", 0) == []


@covers(R.record_group_fact, R.metric_day_counters)
def test_a_join_through_a_code_counts_toward_the_code_and_its_channel_once_whichever_way_it_arrives(
    store: Any,
) -> None:
    via = Via("gc_poster", "ch_douyin")
    told = GroupFact("wr1", JOIN, "j1", "2026-12-01", T0, (("joins", 1),), via=via)
    assert store.record_group_fact("acme", told)  # the join and its code share, in one go
    assert not store.record_group_fact("acme", told)  # a replay
    # Told before its way was known, the way later (a deferred re-read), and replays of both, in any order.
    early = GroupFact("wr1", JOIN, "j2", "2026-12-01", T0 + 5, (("joins", 1),))
    way = GroupFact("wr1", VIA, "j2", "2026-12-01", T0 + 5, (), via=via)
    assert store.record_group_fact("acme", early) and store.record_group_fact("acme", way)
    assert not store.record_group_fact("acme", way) and not store.record_group_fact("acme", replace(early, via=via))
    # The way first, then the join told with it: the join counts, its code share not again.
    assert store.record_group_fact("acme", replace(way, ref="j3"))
    assert store.record_group_fact("acme", replace(told, ref="j3"))
    assert not store.record_group_fact("acme", replace(told, ref="j3"))
    no_channel = GroupFact("wr1", JOIN, "j4", "2026-12-02", T0 + 86_400, (("joins", 1),), via=Via("gc_plain"))
    assert store.record_group_fact("acme", no_channel)
    assert store.group_day_counters("acme", "wr1", "2026-12-01", "2026-12-02") == {
        "2026-12-01": {"joins": 3},
        "2026-12-02": {"joins": 1},
    }
    assert store.metric_day_counters("acme", "group_code", "gc_poster", "2026-11-30", "2026-12-02") == {
        "2026-12-01": {"joins": 3}
    }
    assert store.metric_day_counters("acme", "channel", "ch_douyin", "2026-12-01", "2026-12-01") == {
        "2026-12-01": {"group_joins": 3}
    }
    assert store.metric_day_counters("acme", "group_code", "gc_plain", "2026-12-01", "2026-12-02") == {
        "2026-12-02": {"joins": 1}
    }
    assert store.metric_day_counters("acme", "group_code", "gc_poster", "2026-12-02", "2026-12-03") == {}
    assert store.metric_day_counters("other", "group_code", "gc_poster", "2026-12-01", "2026-12-01") == {}


@covers(R.record_group_fact)
def test_concurrent_deliveries_of_a_join_and_its_way_count_its_code_once(store: Any) -> None:
    via = Via("gc_poster", "ch_douyin")
    told = GroupFact("wr1", JOIN, "j1", "2026-12-01", T0, (("joins", 1),), via=via)
    early = replace(told, via=None)
    way = GroupFact("wr1", VIA, "j1", "2026-12-01", T0, (), via=via)
    barrier = threading.Barrier(6)

    def deliver(fact: GroupFact) -> None:
        barrier.wait()
        store.record_group_fact("acme", fact)

    threads = [threading.Thread(target=deliver, args=(f,)) for f in (told, told, early, early, way, way)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.group_day_counters("acme", "wr1", "2026-12-01", "2026-12-01") == {"2026-12-01": {"joins": 1}}
    code = store.metric_day_counters("acme", "group_code", "gc_poster", "2026-12-01", "2026-12-01")
    channel = store.metric_day_counters("acme", "channel", "ch_douyin", "2026-12-01", "2026-12-01")
    assert code == {"2026-12-01": {"joins": 1}} and channel == {"2026-12-01": {"group_joins": 1}}
