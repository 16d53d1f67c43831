"""Group plans on DynamoDB Local through the real store: 30 groups enrolled on their cohort's calendar fire in one
bucket as one task per owner, exactly once, and the group policy's quota and enrollments hold on AWS's own engine."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.sop import GROUP, SENT, SKIPPED, Subject
from chalicelib.settings import Settings
from tests.unit.group_plan_env import TID, GroupEnv, step


@pytest.fixture
def env(ddb_settings: Settings) -> GroupEnv:
    return GroupEnv(store=DynamoStore(configure(ddb_settings), ddb_settings.table_name))


def test_thirty_groups_in_one_bucket_fire_as_one_task_per_owner_once(env: GroupEnv) -> None:
    owners = ("zhang", "li", "wang")
    for n in range(30):
        env.group(f"wrc{n:02d}", owner=owners[n % 3])
    plan = env.plan([step("pre7", -7, "20:00"), step("d0", 0, "20:00")])
    assert len(env.groups.enroll(env.tenant, plan.plan_id).enrolled) == 30
    again = env.groups.enroll(env.tenant, plan.plan_id)  # a repeated request: every group is enrolled already
    assert again.enrolled == [] and {r["reason"] for r in again.refused} == {"already_enrolled"}
    [bucket] = env.bucket_ids()
    report = env.fire_at_minute(bucket)
    twin = env.sop.fire(TID, bucket)
    assert (report.sent, report.tasks, twin.sent) == (30, 3, 0)
    assert sorted((c.chat_type, c.sender, len(c.recipients)) for c in env.wecom.calls) == [
        ("group", owner, 10) for owner in sorted(owners)
    ]
    tasks = env.store.list_tasks(TID, userid=None, status="created", due_from=None, due_to=None, limit=10)
    assert {(t.userid, t.recipient_kind, len(t.recipients)) for t in tasks} == {(o, GROUP, 10) for o in owners}
    assert {t.state for t in env.touches(bucket)} == {SENT}
    assert env.store.group_quota(TID, "wrc00", "2026-12") == {"m": 1}
    [run] = env.store.subject_enrollments(TID, Subject.group("wrc00"))
    assert run.day0 == "2026-12-08"


def test_a_dismissed_group_is_skipped_on_dynamodb_too(env: GroupEnv) -> None:
    env.group("wr_a")
    env.group("wr_b")
    plan = env.plan([step("pre7", -7, "20:00")])
    env.groups.enroll(env.tenant, plan.plan_id)
    env.dismiss("wr_b")
    [bucket] = env.bucket_ids()
    report = env.fire_at_minute(bucket)
    assert (report.sent, report.skipped, report.reasons) == (1, 1, {"group_dismissed": 1})
    assert {t.subject.id: t.state for t in env.touches(bucket)} == {"wr_a": SENT, "wr_b": SKIPPED}
