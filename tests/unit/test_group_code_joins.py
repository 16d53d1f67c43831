"""Joins through a group code count toward the code and its channel (issue 10 §3), once per join: told with the join
way when the callback could read it, or later when the repair's re-read finds it; replayed or concurrent, never
twice. A join not through one of the tenant's codes counts toward none. WeCom is the world in process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_facts import VIA, Via, fact_of
from chalicelib.domain.signals import GROUP_JOIN_WAY, GROUP_JOINED, Signal
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.identities import credentials
from tests.unit.conftest import CORP
from tests.unit.groups_g2 import GroupEnv
from tests.unit.test_group_events import world_env

A, B = "wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1", "wmBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2"
CODE = "gc_poster01"
TODAY = "2026-12-01"  # the fixed clock's day in Shanghai


@pytest.fixture
def env() -> GroupEnv:
    e = world_env()
    channel = e.svc.channels.create(
        e.tenant, {"name": "抖音直播间", "source": "douyin", "staff": {"mode": "single", "userids": ["zhang"]}}
    )
    code = GroupCode(CODE, "考研数学海报", "XX教育·考研数学·3期·", 2, (e.chat,), channel_id=channel.channel_id)
    e.store.create_group_code("unit", code)
    return e


def way(env: GroupEnv, state: str = CODE) -> str:
    return str(
        env.svc.wecom.add_join_way(
            credentials(env.tenant), chat_ids=[env.chat], state=state, room_base_name="XX", room_base_id=1
        )
    )


def join(env: GroupEnv, person: str, config_id: str = "") -> dict[str, Any]:
    chat_id = "" if config_id else env.chat
    return env.world.group_join(CORP, config_id=config_id, chat_id=chat_id, external_userid=person, invitor="zhang")[-1]


def code_totals(env: GroupEnv, code_id: str = CODE) -> tuple[int, int | None]:
    totals = env.svc.group_facts.code_stats(env.tenant, code_id, TODAY, TODAY)["totals"]
    return totals["joins"], totals["channel_group_joins"]


def group_joins(env: GroupEnv) -> int:
    """The group's joins today besides its owner's (the create's read counted that one)."""
    return int(env.svc.group_facts.stats(env.tenant, env.chat, TODAY, TODAY)["totals"]["joins"]) - 1


def test_a_join_through_a_code_is_told_with_its_way_and_counts_toward_the_code_and_channel_once(env: GroupEnv) -> None:
    fields = join(env, A, way(env))
    assert env.deliver(fields).outcome == "applied"
    assert [(s.type, s.channel_id) for s in env.heard] == [(GROUP_JOINED, CODE)]  # the re-read came first
    assert code_totals(env) == (1, 1) and group_joins(env) == 1
    assert env.deliver(fields).outcome == "duplicate"
    env.svc.group_events.refetch(env.tenant, env.chat, None)  # a later re-read: nothing new to tell
    env.svc.signals.publish(env.tenant, env.chat, env.heard[0])  # a replayed signal
    assert code_totals(env) == (1, 1) and group_joins(env) == 1
    channel_id = env.store.get_group_code("unit", CODE).channel_id
    assert env.store.channel_metrics("unit", channel_id, TODAY) == {"group_joins": 1}  # beside the channel's uv


def test_a_join_whose_re_read_was_deferred_counts_toward_its_code_when_the_repair_reconciles(env: GroupEnv) -> None:
    fields = join(env, A, way(env))
    assert env.deliver(fields, seconds=0).outcome == "applied"  # no time to read the join way
    assert env.heard[0].channel_id is None and code_totals(env) == (0, 0) and group_joins(env) == 1
    env.drain()  # the repair queue's re-read finds the way and tells it
    assert code_totals(env) == (1, 1) and group_joins(env) == 1
    env.drain()
    env.svc.group_events.refetch(env.tenant, env.chat, None)
    assert code_totals(env) == (1, 1) and group_joins(env) == 1


def test_a_direct_join_or_a_way_that_is_no_code_counts_toward_no_code(env: GroupEnv) -> None:
    env.deliver(join(env, A))  # invited directly
    env.deliver(join(env, B, way(env, state="ch_other")))  # a join way whose state names none of our codes
    assert [s.channel_id for s in env.heard] == [None, "ch_other"]
    assert group_joins(env) == 2 and code_totals(env) == (0, 0)
    assert env.store.metric_day_counters("unit", "group_code", "ch_other", TODAY, TODAY) == {}


def test_replayed_and_concurrent_signals_of_one_join_count_its_code_once(env: GroupEnv) -> None:
    at = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    told = Signal(GROUP_JOINED, at, kind="3", chat_id=env.chat, ref="j1", channel_id=CODE)
    early = Signal(GROUP_JOINED, at, kind="3", chat_id=env.chat, ref="j1")
    later = Signal(GROUP_JOIN_WAY, at, chat_id=env.chat, ref="j1", channel_id=CODE)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda s: env.svc.signals.publish(env.tenant, env.chat, s), [told, early, later] * 4))
    assert code_totals(env) == (1, 1) and group_joins(env) == 1


def test_a_code_without_a_channel_counts_only_toward_itself_and_stats_check_their_input(env: GroupEnv) -> None:
    plain = GroupCode("gc_plain01", "无渠道", "XX", 1, ("wrAnotherGroup01",))
    env.store.create_group_code("unit", plain)
    env.deliver(join(env, A, way(env, state="gc_plain01")))
    assert code_totals(env, "gc_plain01") == (1, None) and code_totals(env) == (0, 0)
    with pytest.raises(NotFoundError):
        env.svc.group_facts.code_stats(env.tenant, "gc_nope", None, None)
    with pytest.raises(InvalidError):
        env.svc.group_facts.code_stats(env.tenant, CODE, "2026-12-02", "2026-12-01")


def test_a_join_way_signal_without_a_code_is_no_fact() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    signal = Signal(GROUP_JOIN_WAY, at, chat_id="wr1", ref="j1", channel_id="gc_x")
    assert fact_of(signal, "wr1", shanghai) is None
    fact = fact_of(signal, "wr1", shanghai, via=Via("gc_x"))
    assert fact is not None and fact.fact == VIA and fact.counts == () and fact.via == Via("gc_x")
