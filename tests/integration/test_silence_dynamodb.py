"""The lifecycle suite again, on DynamoDB Local through the real store: silence timers' conditional start, move,
claim and delete, their sparse index partitions, the hand-off once under concurrent runs, and trigger enrollment."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_lifecycle
from tests.unit.test_lifecycle import TID, Env

FAKES_ONLY = {  # wiring through bootstrap's services: nothing storage-specific to repeat here
    "test_business_events_reach_the_lifecycle_through_the_wired_services",
    "test_the_silence_job_runs_every_tenant_every_fifteen_minutes",
}
globals().update({n: fn for n, fn in vars(test_lifecycle).items() if n.startswith("test_") and n not in FAKES_ONLY})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return Env(store)


def test_the_index_holds_one_entry_per_timer_and_moves_with_it(env: Env) -> None:
    """Moving a timer rewrites its own gsi1 keys: the old date partition no longer lists it."""
    nurture, _ = test_lifecycle.silent_pair(env)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    [timer] = env.store.silence_timers_of(TID, c.customer_id)
    assert [t.customer_id for t in env.store.due_silence_timers(TID, day=timer.due[:10], until=timer.due)] == [
        c.customer_id
    ]
    env.at(days=5)
    env.signal(c.customer_id, test_lifecycle.Signal("reply", env.clock.now()))
    [moved] = env.store.silence_timers_of(TID, c.customer_id)
    assert env.store.due_silence_timers(TID, day=timer.due[:10], until=moved.due) == []
    assert [t.due for t in env.store.due_silence_timers(TID, day=moved.due[:10], until=moved.due)] == [moved.due]
    store: Any = env.store
    item = store.client.get_item(
        TableName=store.table,
        Key={"pk": {"S": f"T#{TID}#C#{c.customer_id}"}, "sk": {"S": f"SIL#{nurture.plan_id}"}},
    )["Item"]
    assert item["gsi1pk"]["S"] == f"T#{TID}#SIL#{moved.due[:10]}" and item["gsi1sk"]["S"].startswith(moved.due + "#")
