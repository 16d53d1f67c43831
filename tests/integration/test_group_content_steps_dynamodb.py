"""Group plan steps that send group content by id, on DynamoDB Local through the real store: the plan keeps only the
id (its stored document round-trips it), each fire reads the piece as it is then, and a piece deleted after publish
fails that step's task as ``content_deleted`` while the next step still goes out."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.sop import FAILED, SENT
from chalicelib.services.group_content import GroupContentService
from chalicelib.settings import Settings
from tests.unit.group_plan_env import TID, GroupEnv, step


@pytest.fixture
def env(ddb_settings: Settings) -> GroupEnv:
    return GroupEnv(store=DynamoStore(configure(ddb_settings), ddb_settings.table_name))


def test_each_fire_reads_the_piece_as_it_is_and_a_deleted_one_fails_by_name(env: GroupEnv) -> None:
    contents = GroupContentService(env.store, env.clock, env.ids)
    piece = {"kind": "rules", "title": "群规", "message": {"text": "群规 v1"}, "notes": "开营发"}
    rules = contents.create(env.tenant, piece).content_id
    env.group("wr_a")
    by_id = {"message": {"content_id": rules}}
    days = [{**step(f"pre{n}", -n, "20:00"), **by_id} for n in (7, 6, 5)]
    plan = env.plan([*days, step("pre4", -4, "20:00")])
    stored = env.store.get_plan(TID, plan.plan_id, plan.version)
    assert stored is not None and [s.content_id for s in stored.steps] == [rules, rules, rules, None]

    def fire(step_id: str) -> tuple[int, int, dict[str, int] | None]:
        [bucket] = [b for b in env.bucket_ids() if f".{step_id}." in b]
        report = env.fire_at_minute(bucket)
        return report.sent, report.failed, report.reasons

    env.groups.enroll(env.tenant, plan.plan_id)
    assert fire("pre7") == (1, 0, None)
    contents.update(env.tenant, rules, {"rev": 1, "message": {"text": "群规 v2"}})
    assert fire("pre6") == (1, 0, None)
    assert [c.text for c in env.wecom.calls] == ["群规 v1", "群规 v2"]
    tasks = env.store.list_tasks(TID, userid=None, status="created", due_from=None, due_to=None, limit=10)
    assert sorted((t.text, t.notes) for t in tasks) == [("群规 v1", "开营发"), ("群规 v2", "开营发")]
    contents.delete(TID, rules)
    assert fire("pre5") == (0, 1, {"content_deleted": 1})
    [failed] = env.store.list_tasks(TID, userid=None, status=FAILED, due_from=None, due_to=None, limit=10)
    assert failed.reason == "content_deleted" and failed.recipients == ("wr_a",)
    assert fire("pre4") == (1, 0, None)  # the calendar goes on
    assert len(env.wecom.calls) == 3
    assert {t.state for b in env.bucket_ids() if ".pre4." in b for t in env.touches(b)} == {SENT}
