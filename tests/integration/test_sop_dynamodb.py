"""The SOP engine suite again, on DynamoDB Local through the real store: conditional touch transitions, bucket
registry, caps, tasks and enrollments must hold on AWS's own engine, concurrent fires included."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_sop_engine
from tests.unit.test_sop_engine import Env

globals().update({name: fn for name, fn in vars(test_sop_engine).items() if name.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return Env(store)


def test_a_touch_that_implies_a_later_one_lives_until_that_one_is_due(env: Env) -> None:
    """The implied touch is read from its feeder's item, so that item's TTL follows the later due time (a step
    60 days on must not vanish with its 35-day-old feeder)."""
    from datetime import datetime, timedelta

    from chalicelib.adapters.dynamodb.keys import bucket_pk
    from chalicelib.adapters.dynamodb.touches import TOUCH_TTL_DAYS
    from tests.unit.test_sop_engine import plan, step

    env.plans.add(plan([step("s1", after_minutes=30), step("s2", day=60, at="10:00")]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    [sent] = env.store.touches_in("sop", report.bucket_id, state="sent")
    assert sent.next_due == "2027-01-30T10:00:00+08:00"
    store = env.store
    assert isinstance(store, DynamoStore)
    item = store.client.get_item(
        TableName=store.table,
        Key={"pk": {"S": bucket_pk("sop", report.bucket_id)}, "sk": {"S": sent.key}},
        ConsistentRead=True,
    )["Item"]
    expected = datetime.fromisoformat(sent.next_due) + timedelta(days=TOUCH_TTL_DAYS)
    assert int(item["expires_at"]["N"]) == int(expected.timestamp())
    assert item["nb"]["S"] == sent.next_bucket
    [implied] = env.store.touches_in("sop", sent.next_bucket or "")
    assert (implied.step_id, implied.due_at) == ("s2", sent.next_due)


def test_batch_reads_never_take_a_throttled_key_for_a_missing_one(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys DynamoDB leaves unprocessed (throttling) are retried, then read one by one: a fire must never take a
    throttled customer for an erased one."""
    store = env.store
    assert isinstance(store, DynamoStore)
    ids = [env.customer(n).customer_id for n in range(3)]
    calls: list[int] = []

    def throttled(**kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}

    monkeypatch.setattr(store.client, "batch_get_item", throttled)
    monkeypatch.setattr("chalicelib.adapters.dynamodb.base.time.sleep", lambda s: None)
    assert sorted(store.get_customers("sop", ids)) == ids
    assert len(calls) == 4  # four tries, then the single reads


def test_a_task_written_before_recipients_had_their_own_item_still_reads_whole(env: Env) -> None:
    """Task heads that carry their customer ids in their own doc (the earlier layout) read as before."""
    import json

    from chalicelib.adapters.dynamodb.keys import task_pk

    store = env.store
    assert isinstance(store, DynamoStore)
    doc = {
        "task_id": "tk_legacy",
        "userid": "zhang",
        "kind": "mass",
        "status": "created",
        "due_at": "2026-12-01T20:00:00+08:00",
        "created_at": "2026-12-01T20:00:00+08:00",
        "customer_ids": ["c00001", "c00002"],
        "text": "旧任务",
    }
    store.client.put_item(
        TableName=store.table,
        Item={
            "pk": {"S": task_pk("sop", "tk_legacy")},
            "sk": {"S": "TASK"},
            "kind": {"S": "task"},
            "status": {"S": "created"},
            "userid": {"S": "zhang"},
            "doc": {"S": json.dumps(doc, ensure_ascii=False)},
            "gsi1pk": {"S": "T#sop#TASKS"},
            "gsi1sk": {"S": "2026-12-01T12:00:00Z#tk_legacy"},
        },
    )
    task = store.get_task("sop", "tk_legacy")
    assert task is not None and task.customer_ids == ("c00001", "c00002")
    [listed] = store.list_tasks("sop", userid="zhang", status=None, due_from=None, due_to=None, limit=5)
    assert listed.customer_ids == ("c00001", "c00002") and listed.text == "旧任务"
