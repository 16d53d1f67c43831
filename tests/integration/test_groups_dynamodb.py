"""Groups on DynamoDB Local: the callback stories of tests/unit/test_group_events.py over the real store, then a
first sync that resumes after a crash and an erasure, end to end."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.contact_events import event_from_fields
from chalicelib.services.groups.members import member_key
from chalicelib.settings import Settings
from tests.fakes.wecom_groups_g2 import FakeChatMember
from tests.unit import test_group_events
from tests.unit.groups_g2 import GroupEnv, make_group_env

globals().update({name: fn for name, fn in vars(test_group_events).items() if name.startswith("test_")})


def _env(settings: Settings) -> GroupEnv:
    return make_group_env(DynamoStore(configure(settings), settings.table_name))


@pytest.fixture
def env(ddb_settings: Settings) -> GroupEnv:
    return test_group_events.world_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name))


def test_a_first_sync_resumes_and_an_erasure_follows_the_index(ddb_settings: Settings) -> None:
    env = _env(ddb_settings)
    ext = "wmDynamo000000000000000000000001"
    added = env.world.event(env.tenant.corp_id, "add_external_contact", now=env.clock.epoch(), userid="zhang",
                            external_userid=ext, State="")  # fmt: skip
    customer_id = env.svc.intake.handle(env.tenant, event_from_fields(added)).customer_id
    for n in range(150):
        members = (FakeChatMember(ext, join_time=1_700_000_000),) if n % 50 == 0 else ()
        env.chats.create(f"wr{n:04d}", owner="zhang", members=(*members, FakeChatMember(f"wmx{n}")))
    job = env.store.current_group_sync("unit")
    env.chats.crash_after_gets = 120
    with pytest.raises(RuntimeError):
        env.svc.group_sync.advance(env.tenant, job["job_id"], budget_seconds=120)
    env.chats.crash_after_gets = None
    done = env.svc.group_sync.advance(env.tenant, job["job_id"], budget_seconds=120)
    # The crashed page is read again: the 20 groups it had reconciled are unchanged the second time.
    assert (done["status"], done["pages"], done["groups_seen"], done["changed"]) == ("done", 2, 150, 130)
    assert len(env.heard) == 150 * 2 + 3
    key = member_key(env.tenant, ext)
    assert env.store.member_chats("unit", key) == ["wr0000", "wr0050", "wr0100"]
    record = env.member(ext, "wr0050")
    assert record is not None and record.customer_id == customer_id
    assert env.svc.customers.erase(env.tenant, customer_id)["erased"]
    assert env.store.member_chats("unit", key) == []
    record = env.member(ext, "wr0050")
    assert record is not None and record.erased and record.userid == "" and record.customer_id == ""
