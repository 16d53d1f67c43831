"""Group facts through the service on DynamoDB Local: the tenant's local midnight splits the days, and concurrent
deliveries of one message count once (tests/unit/test_group_facts.py runs the same rules on the fake)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.groups import GroupState
from chalicelib.domain.signals import GROUP_JOINED, REPLY, Signal
from chalicelib.settings import Settings
from tests.unit.conftest import make_env

CHAT = "wrMidnight01"
MIDNIGHT = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Shanghai


def test_local_midnight_splits_days_and_concurrent_deliveries_count_once(ddb_settings: Settings) -> None:
    env = make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name))
    assert env.store.save_group_state("unit", CHAT, GroupState(member_count=12), expected_rev=0)
    facts = env.svc.group_facts

    def say(subject: str, ref: str, at: datetime) -> bool:
        return facts.on_signal(env.tenant, subject, Signal(REPLY, at, chat_id=CHAT, ref=ref))

    assert say("c1", "late", MIDNIGHT - timedelta(seconds=1))  # 23:59:59 on the 30th
    assert say("c1", "early", MIDNIGHT)  # 00:00:00 on the 1st
    results: list[bool] = []
    barrier = threading.Barrier(5)

    def deliver() -> None:
        barrier.wait()
        results.append(say("c2", "twice", MIDNIGHT + timedelta(hours=1)))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 4 + [True]
    joined = Signal(GROUP_JOINED, MIDNIGHT + timedelta(hours=2), kind="3", chat_id=CHAT, ref="j1")
    assert facts.on_signal(env.tenant, CHAT, joined) and not facts.on_signal(env.tenant, CHAT, joined)
    days = facts.stats(env.tenant, CHAT, "2026-11-30", "2026-12-01")["days"]
    assert [(d["date"], d["messages"], d["speakers"], d["joins"], d["members"]) for d in days] == [
        ("2026-11-30", 1, 1, 0, None),
        ("2026-12-01", 2, 2, 1, 12),
    ]
    activity = facts.activity(env.tenant, CHAT)
    assert (activity["active_count"], activity["silent_count"]) == (2, 10)
