"""The task sync beside erasure (tests/unit/test_task_sync.py has the rest; tests/integration/test_task_sync_dynamodb.py
runs these on DynamoDB Local too): a customer erased while a sync is under way leaves the others their own outcome."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_sop_engine import CORP
from tests.unit.test_task_sync import SyncEnv, _counts


@pytest.fixture
def env() -> SyncEnv:
    return SyncEnv()


def test_a_recipient_erased_during_the_sync_does_not_shift_the_others_outcomes(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outcomes match recipients by position. The sync reads WeCom's send list for the task as it read it; an
    erasure that takes the first customer out meanwhile must leave the second their own outcome."""
    a, b = env.customer(1), env.customer(2)
    task = env.fire_task([a, b], "pl_a")
    erased, kept = task.customer_ids  # whichever is first is the one whose removal would shift the other
    by_id = {a.customer_id: a, b.customer_id: b}
    env.world.event(CORP, "del_follow_user", userid="zhang", external_userid=by_id[erased].external_userid)
    env.clock.advance(minutes=5)
    env.world.confirm_task(task.msgid or "", "zhang")
    send_result = env.wecom.get_groupmsg_send_result

    def erase_meanwhile(*args: Any, **kwargs: Any) -> Any:
        env.store.drop_recipient("sop", task.task_id, erased)
        return send_result(*args, **kwargs)

    monkeypatch.setattr(env.wecom, "get_groupmsg_send_result", erase_meanwhile)

    assert env.sync.run("sop").sent == 1

    synced = env.task(task.task_id)
    assert synced.customer_ids == (kept,) and synced.outcome_map() == {kept: "sent"}
    assert _counts(synced) == {"sent": 1, "not_sent": 0, "not_friend": 1, "limit_hit": 0}  # counts name no one
