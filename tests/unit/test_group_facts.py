"""Group facts for metrics and member activity (issue 10 §4, §7) on the in-memory store, through the signal bus:
each fact counts once however often it is delivered, days are the tenant's local days, and the activity window reads
only the members who spoke in it."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.group_facts import (
    CHECKIN_FACT,
    JOIN,
    MESSAGE,
    GroupFact,
    default_range,
    fact_of,
    scene_of,
    stats_range,
)
from chalicelib.domain.groups import GroupState
from chalicelib.domain.signals import CHECKIN, GROUP_JOINED, GROUP_LEFT, ORDER, REPLY, Signal
from chalicelib.errors import InvalidError, NotFoundError
from tests.fakes.store import FakeStore
from tests.unit.conftest import WECOM, Env, make_channel, make_env

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the fixed clock: 20:00 in Shanghai


@pytest.fixture
def env() -> Env:
    e = make_env(FakeStore())
    assert e.store.save_group_state("unit", CHAT, GroupState(name="考研数学·3期·01", member_count=40), expected_rev=0)
    return e


def _publish(env: Env, subject: str, signal: Signal) -> None:
    env.svc.signals.publish(env.tenant, subject, signal)


def message(member: str, ref: str, at: datetime = NOW - timedelta(minutes=5), chat: str = CHAT) -> Signal:
    return Signal(REPLY, at, chat_id=chat, ref=ref, text="打卡")


def _stats(env: Env, first: str = "2026-12-01", last: str = "2026-12-01") -> dict[str, Any]:
    return env.svc.group_facts.stats(env.tenant, CHAT, first, last)


# --- the pure part ------------------------------------------------------------------------------------------------


def test_a_signal_becomes_one_fact_keyed_by_its_identity_in_the_tenants_local_day() -> None:
    late = datetime(2026, 12, 1, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    fact = fact_of(message("c1", "r1", late), "c1", SHANGHAI)
    assert fact == GroupFact(CHAT, MESSAGE, "r1", "2026-12-01", int(late.timestamp()), (("messages", 1),),
                             first="speaker", member="c1", spoke=True)  # fmt: skip
    next_day = fact_of(message("c1", "r2", late + timedelta(seconds=1)), "c1", SHANGHAI)
    assert next_day is not None and next_day.date == "2026-12-02"
    assert fact_of(message("c1", "r1", late), "c1", ZoneInfo("UTC")).date == "2026-12-01"  # type: ignore[union-attr]
    checkin = fact_of(Signal(CHECKIN, late, chat_id=CHAT, ref="k1"), "c1", SHANGHAI)
    assert checkin is not None and checkin.fact == CHECKIN_FACT and checkin.first == "completer"
    assert not checkin.spoke and checkin.counts == (("checkins", 1),)
    join = fact_of(Signal(GROUP_JOINED, late, kind="3", chat_id=CHAT, member="wm_x", ref="j1"), CHAT, SHANGHAI)
    assert join is not None and join.fact == JOIN and join.member is None  # a join keeps no member id
    assert join.counts == (("joins", 1), ("join#3", 1))
    linked = fact_of(Signal(GROUP_JOINED, late, kind="3", chat_id=CHAT, ref="j1"), CHAT, SHANGHAI, with_account=True)
    assert linked is not None and ("joins_with_account", 1) in linked.counts
    # Not group facts: no chat id, no identity, another type.
    assert fact_of(Signal(REPLY, late, ref="r"), "c1", SHANGHAI) is None
    assert fact_of(Signal(REPLY, late, chat_id=CHAT), "c1", SHANGHAI) is None
    assert fact_of(Signal(ORDER, late, chat_id=CHAT, ref="o"), "c1", SHANGHAI) is None
    assert fact_of(Signal(REPLY, late, chat_id="wr#x", ref="r"), "c1", SHANGHAI) is None  # no such chat id


def test_scenes_become_safe_counter_names() -> None:
    assert [scene_of(s) for s in ("0", "3", None, "", "a#b", "x" * 17)] == ["0", "3", "unknown", "unknown"] + [
        "other"
    ] * 2


def test_ranges_default_to_the_last_seven_days_and_are_bounded() -> None:
    assert default_range("2026-12-07", None, None) == ("2026-12-01", "2026-12-07")
    assert default_range("2026-12-07", None, "2026-11-30") == ("2026-11-24", "2026-11-30")
    assert len(stats_range("2026-11-01", "2027-01-31")) == 92
    with pytest.raises(ValueError):
        stats_range("2026-11-01", "2027-02-01")
    with pytest.raises(ValueError):
        stats_range("2026-12-02", "2026-12-01")


# --- messages: activity, speakers, messages; replays -----------------------------------------------------------


def test_a_replayed_message_counts_once_and_moves_nothing(env: Env) -> None:
    _publish(env, "c1", message("c1", "r1"))
    _publish(env, "c1", message("c1", "r1"))  # a replay: the same identity
    _publish(env, "c1", message("c1", "r1", at=NOW - timedelta(minutes=1)))  # even with another time
    _publish(env, "c1", message("c1", "r2", at=NOW - timedelta(minutes=2)))
    _publish(env, "c2", message("c2", "r3"))
    day = _stats(env)["days"][0]
    assert (day["messages"], day["speakers"]) == (3, 2)
    activity = env.svc.group_facts.activity(env.tenant, CHAT)
    assert activity["active_count"] == 2 and activity["silent_count"] == 38 and activity["member_count"] == 40
    c1 = next(a for a in activity["active"] if a["member"] == "c1")
    assert c1 == {"member": "c1", "last_spoke_at": "2026-12-01T19:58:00+08:00", "messages": 2}


def test_concurrent_duplicates_count_once(env: Env) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(env.svc.group_facts.on_signal(env.tenant, "c1", message("c1", "same")))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert (_stats(env)["days"][0]["messages"], _stats(env)["days"][0]["speakers"]) == (1, 1)


def test_an_older_message_arriving_late_never_moves_last_spoke_back(env: Env) -> None:
    _publish(env, "c1", message("c1", "new", at=NOW - timedelta(minutes=1)))
    _publish(env, "c1", message("c1", "old", at=NOW - timedelta(days=2)))
    [c1] = env.svc.group_facts.activity(env.tenant, CHAT)["active"]
    assert c1["last_spoke_at"] == "2026-12-01T19:59:00+08:00" and c1["messages"] == 2
    assert [d["messages"] for d in _stats(env, "2026-11-29", "2026-12-01")["days"]] == [1, 0, 1]


def test_daily_speakers_are_per_local_day_in_the_tenants_zone(env: Env) -> None:
    before_midnight = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on the 30th in Shanghai
    _publish(env, "c1", message("c1", "a", at=before_midnight))
    _publish(env, "c1", message("c1", "b", at=before_midnight + timedelta(seconds=1)))  # 00:00:00 on the 1st
    _publish(env, "c1", message("c1", "c", at=before_midnight + timedelta(hours=3)))
    days = _stats(env, "2026-11-30", "2026-12-01")["days"]
    assert [(d["date"], d["messages"], d["speakers"]) for d in days] == [
        ("2026-11-30", 1, 1),
        ("2026-12-01", 2, 1),
    ]


def test_the_window_reads_only_the_members_who_spoke_in_it(env: Env) -> None:
    store: FakeStore = env.store
    assert store.save_group_state("unit", CHAT, replace(GroupState(), member_count=60), expected_rev=1)
    for n in range(45):  # silent members: spoke once, 20 days ago
        _publish(env, f"s{n}", message(f"s{n}", f"old{n}", at=NOW - timedelta(days=20)))
    for n in range(5):
        _publish(env, f"a{n}", message(f"a{n}", f"new{n}", at=NOW - timedelta(hours=n)))
    store.activity_reads = 0
    week = env.svc.group_facts.activity(env.tenant, CHAT)
    assert store.activity_reads == 5  # the five active records, none of the 45 silent ones
    assert [a["member"] for a in week["active"]] == ["a0", "a1", "a2", "a3", "a4"]  # newest first
    assert (week["active_count"], week["silent_count"], week["window_days"]) == (5, 55, 7)
    store.activity_reads = 0
    month = env.svc.group_facts.activity(env.tenant, CHAT, 30)
    assert store.activity_reads == 50 and month["silent_count"] == 10


def test_the_default_window_is_the_tenants(env: Env) -> None:
    _publish(env, "c1", message("c1", "r1", at=NOW - timedelta(days=10)))
    assert env.svc.group_facts.settings("unit") == {"window_days": 7}
    assert env.svc.group_facts.activity(env.tenant, CHAT)["active_count"] == 0
    assert env.svc.group_facts.set_settings("unit", {"window_days": 14}) == {"window_days": 14}
    assert env.svc.group_facts.activity(env.tenant, CHAT)["active_count"] == 1
    assert env.svc.group_facts.activity(env.tenant, CHAT, 3)["active_count"] == 0  # a window asked for wins


def test_a_fact_past_the_horizon_is_not_counted_so_a_late_replay_cannot_double_it(env: Env) -> None:
    assert not env.svc.group_facts.on_signal(env.tenant, "c1", message("c1", "r1", at=NOW - timedelta(days=31)))
    assert env.svc.group_facts.on_signal(env.tenant, "c1", message("c1", "r2", at=NOW - timedelta(days=29)))
    assert _stats(env, "2026-10-31", "2026-11-02")["totals"]["messages"] == 1


# --- check-ins, joins and leaves, members ---------------------------------------------------------------------


def test_checkins_and_task_completers_count_once_per_identity_and_per_member_day(env: Env) -> None:
    at = NOW - timedelta(minutes=5)
    for subject, ref in (("c1", "k1"), ("c1", "k1"), ("c1", "k2"), ("c2", "k3")):
        _publish(env, subject, Signal(CHECKIN, at, chat_id=CHAT, ref=ref))
    _publish(env, "c1", message("c1", "k1"))  # a keyword message sharing the check-in's ref is another fact
    day = _stats(env)["days"][0]
    assert (day["checkins"], day["completers"], day["messages"], day["speakers"]) == (3, 2, 1, 1)


def test_joins_and_leaves_by_scene_with_the_days_member_count(env: Env) -> None:
    store: FakeStore = env.store
    at = NOW - timedelta(minutes=5)
    for n, (scene, ref) in enumerate((("3", "j1"), ("3", "j1"), ("1", "j2"), ("3", "j3"))):
        store.save_group_state("unit", CHAT, GroupState(member_count=41 + n), expected_rev=1 + n)
        _publish(env, CHAT, Signal(GROUP_JOINED, at + timedelta(seconds=n), kind=scene, chat_id=CHAT, ref=ref))
    store.save_group_state("unit", CHAT, GroupState(member_count=43), expected_rev=5)
    _publish(env, CHAT, Signal(GROUP_LEFT, at + timedelta(seconds=9), kind="0", chat_id=CHAT, ref="l1"))
    _publish(env, CHAT, Signal(GROUP_JOINED, at, kind="3", chat_id=CHAT, ref="j1"))  # a late replay
    day = _stats(env)["days"][0]
    assert (day["joins"], day["leaves"], day["joins_with_account"]) == (3, 1, 0)
    assert day["joins_by_scene"] == {"1": 1, "3": 2} and day["leaves_by_scene"] == {"0": 1}
    assert day["members"] == 43  # the count as of the day's latest fact; the replay did not set an older one


def test_members_carry_forward_over_quiet_days_and_start_from_before_the_range(env: Env) -> None:
    store: FakeStore = env.store
    store.save_group_state("unit", CHAT, GroupState(member_count=41), expected_rev=1)
    _publish(env, CHAT, Signal(GROUP_JOINED, NOW - timedelta(days=5), kind="3", chat_id=CHAT, ref="j1"))
    store.save_group_state("unit", CHAT, GroupState(member_count=40), expected_rev=2)
    _publish(env, CHAT, Signal(GROUP_LEFT, NOW - timedelta(days=2), kind="0", chat_id=CHAT, ref="l1"))
    result = _stats(env, "2026-11-28", "2026-12-01")
    assert [d["members"] for d in result["days"]] == [41, 40, 40, 40]
    assert result["totals"]["members_start"] == 41 and result["totals"]["members_end"] == 40
    assert result["totals"]["joins"] == 0 and result["totals"]["leaves"] == 1
    assert _stats(env, "2026-11-20", "2026-11-21")["days"][0]["members"] is None  # nothing known yet


def test_a_joining_member_with_an_active_staff_relation_counts_as_having_the_account(env: Env) -> None:
    fields, result = env.scan(make_channel(env).state)
    at = NOW - timedelta(minutes=5)
    _publish(env, CHAT, Signal(GROUP_JOINED, at, kind="3", chat_id=CHAT, member=fields["ExternalUserID"], ref="j1"))
    _publish(env, CHAT, Signal(GROUP_JOINED, at, kind="3", chat_id=CHAT, member="wm_stranger", ref="j2"))
    _publish(env, CHAT, Signal(GROUP_JOINED, at, kind="3", chat_id=CHAT, member="zhang", ref="j3"))  # staff
    day = _stats(env)["days"][0]
    assert (day["joins"], day["joins_with_account"]) == (3, 1)
    env.event("del_follow_user", external_userid=fields["ExternalUserID"], userid="zhang")  # the relation ends
    _publish(env, CHAT, Signal(GROUP_JOINED, at, kind="3", chat_id=CHAT, member=fields["ExternalUserID"], ref="j4"))
    assert _stats(env)["days"][0]["joins_with_account"] == 1 and result.customer_id


def test_reads_need_a_known_group_and_a_sane_range(env: Env) -> None:
    with pytest.raises(NotFoundError):
        env.svc.group_facts.activity(env.tenant, "wrNope")
    with pytest.raises(NotFoundError):
        env.svc.group_facts.stats(env.tenant, "wrNope", None, None)
    with pytest.raises(NotFoundError):
        env.svc.group_facts.activity(env.tenant, "wr#" + "x" * 2000)  # an id WeCom never makes reaches no key
    with pytest.raises(InvalidError):
        env.svc.group_facts.stats(env.tenant, CHAT, "2026-12-02", "2026-12-01")
    week = env.svc.group_facts.stats(env.tenant, CHAT, None, None)
    assert (week["from"], week["to"], len(week["days"])) == ("2026-11-25", "2026-12-01", 7)


def test_tenants_never_meet(env: Env) -> None:
    other = env.svc.tenants.create(tenant_id="beta", name="别家", corp_id="wwbeta0000000001", wecom=WECOM)
    env.store.save_group_state("beta", CHAT, GroupState(member_count=5), expected_rev=0)
    _publish(env, "c1", message("c1", "r1"))
    env.svc.signals.publish(other, "c1", message("c1", "r1"))  # the same ref in another tenant is its own fact
    assert _stats(env)["totals"]["messages"] == 1
    assert env.svc.group_facts.stats(other, CHAT, "2026-12-01", "2026-12-01")["totals"]["messages"] == 1
    assert env.svc.group_facts.activity(other, CHAT)["active_count"] == 1
