"""Live plan edits: pinned versions without a migration, and an explicit, previewable migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.sop import SCHEDULED, SKIPPED
from chalicelib.errors import InvalidError
from chalicelib.services.migration import PlanMigration
from tests.unit.conftest import Env, make_channel

STEPS = [
    {"id": "s1", "after_minutes": 30, "content_type": "service", "message": {"text": "破冰"}},
    {"id": "s2", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练 v1"}},
    {"id": "s3", "day": 2, "at": "10:00", "content_type": "interactive", "message": {"text": "资料"}},
]


def _live_plan(env: Env) -> Any:
    plan = env.svc.plans.create(env.tenant, {"name": "新客培育", "trigger": {"type": "manual"}, "steps": STEPS})
    env.svc.plans.publish(env.tenant, plan.plan_id)
    return plan


def _enroll_three_and_fire_s1(env: Env, plan_id: str) -> list[str]:
    ch = make_channel(env)
    customers = [env.scan(ch.state)[1].customer_id for _ in range(3)]
    for cid in customers:
        assert env.svc.sop.enroll(env.tenant, cid, plan_id) is not None
    env.clock.advance(minutes=30)
    for sched in list(env.scheduler.schedules.values()):
        env.svc.sop.fire("unit", sched["payload"]["bucket_id"])
    return customers


def _queued(env: Env, plan_id: str, version: int) -> list[Any]:
    return [
        t
        for b in env.store.plan_buckets("unit", plan_id, version, from_minute="0")
        for t in env.store.touches_in("unit", b.bucket_id, state=SCHEDULED)
    ]


def test_editing_a_live_plan_without_migration_keeps_enrollments_pinned(env: Env) -> None:
    plan = _live_plan(env)
    customers = _enroll_three_and_fire_s1(env, plan.plan_id)
    edited = env.svc.plans.update(
        env.tenant, plan.plan_id, {"steps": [STEPS[0], dict(STEPS[1], message={"text": "每日一练 v2"}), STEPS[2]]}
    )
    assert edited.version == 2
    assert {env.store.get_enrollment("unit", c, plan.plan_id).version for c in customers} == {1}
    assert len(_queued(env, plan.plan_id, 1)) == 3 and _queued(env, plan.plan_id, 2) == []
    env.clock.current = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # day 1 at 10:00 in Shanghai
    for b in env.store.plan_buckets("unit", plan.plan_id, 1, from_minute="0"):
        env.svc.sop.fire("unit", b.bucket_id)
    texts = [c.payload["text"]["content"] for c in env.world.calls("externalcontact/add_msg_template")]
    assert texts[-1] == "每日一练 v1"  # the pinned version's content, not the edit


def test_migration_dry_run_reports_and_changes_nothing_then_moves_once(env: Env) -> None:
    plan = _live_plan(env)
    customers = _enroll_three_and_fire_s1(env, plan.plan_id)
    env.svc.plans.update(
        env.tenant,
        plan.plan_id,
        {
            "steps": [
                STEPS[0],
                {
                    "id": "s2b",
                    "day": 1,
                    "at": "11:00",
                    "content_type": "interactive",
                    "message": {"text": "每日一练 新版"},
                },
                STEPS[2],
            ]
        },
    )
    migration: PlanMigration = env.svc.migration
    preview = migration.migrate(
        env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={"s2": "s2b"}, dry_run=True
    )
    assert preview.moves == {"s2->s2b": 3} and preview.enrollments == 3
    assert {(c["old_due_at"][11:16], c["new_due_at"][11:16]) for c in preview.due_changes} == {("10:00", "11:00")}
    assert len(_queued(env, plan.plan_id, 1)) == 3  # a dry run writes nothing
    done = migration.migrate(
        env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={"s2": "s2b"}, dry_run=False
    )
    assert done.moves == {"s2->s2b": 3}
    assert _queued(env, plan.plan_id, 1) == [] and len(_queued(env, plan.plan_id, 2)) == 3
    assert {env.store.get_enrollment("unit", c, plan.plan_id).version for c in customers} == {2}
    old = [
        t
        for b in env.store.plan_buckets("unit", plan.plan_id, 1, from_minute="0")
        for t in env.store.touches_in("unit", b.bucket_id, state=SKIPPED)
    ]
    assert {t.reason for t in old} == {"migrated:v2"}
    again = migration.migrate(
        env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={"s2": "s2b"}, dry_run=False
    )
    assert again.moves == {}  # nothing moves twice
    env.clock.current = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # day 1 at 11:00 in Shanghai
    for b in env.store.plan_buckets("unit", plan.plan_id, 2, from_minute="0"):
        env.svc.sop.fire("unit", b.bucket_id)
    assert env.world.calls("externalcontact/add_msg_template")[-1].payload["text"]["content"] == "每日一练 新版"


def test_a_dropped_step_moves_to_the_next_mapped_one_and_bad_maps_are_refused(env: Env) -> None:
    plan = _live_plan(env)
    _enroll_three_and_fire_s1(env, plan.plan_id)
    env.svc.plans.update(env.tenant, plan.plan_id, {"steps": [STEPS[0], STEPS[2]]})
    with pytest.raises(InvalidError):
        env.svc.migration.migrate(
            env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={}, dry_run=True
        )  # s2 has no home in version 2
    with pytest.raises(InvalidError):
        env.svc.migration.migrate(
            env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={"s2": "nope"}, dry_run=True
        )
    report = env.svc.migration.migrate(
        env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={"s2": None}, dry_run=False
    )
    assert report.dropped == 3 and report.moves == {"s2->s3": 3}
    assert {t.step_id for t in _queued(env, plan.plan_id, 2)} == {"s3"}


def test_pause_and_resume(env: Env) -> None:
    plan = _live_plan(env)
    ch = make_channel(env)
    cid = env.scan(ch.state)[1].customer_id
    env.svc.sop.enroll(env.tenant, cid, plan.plan_id)
    env.svc.plans.pause(env.tenant, plan.plan_id)
    assert env.svc.sop.enroll(env.tenant, env.scan(ch.state)[1].customer_id, plan.plan_id) is None  # paused
    env.clock.advance(minutes=30)
    [sched] = env.scheduler.schedules.values()
    report = env.svc.sop.fire("unit", sched["payload"]["bucket_id"])
    assert report.reasons == {"plan_paused": 1}
    env.svc.plans.resume(env.tenant, plan.plan_id)
    assert env.svc.sop.enroll(env.tenant, env.scan(ch.state)[1].customer_id, plan.plan_id) is not None


def test_a_migrated_enrollments_silence_timer_follows_the_new_version(env: Env) -> None:
    silent = env.svc.plans.create(env.tenant, {"name": "沉默唤醒", "trigger": {"type": "manual"}, "steps": STEPS[:1]})
    quiet = env.svc.plans.create(env.tenant, {"name": "沉默回访", "trigger": {"type": "manual"}, "steps": STEPS[:1]})
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客培育",
            "trigger": {"type": "manual"},
            "steps": STEPS,
            "silence": {"days": 7, "then_plan_id": silent.plan_id},
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    customers = _enroll_three_and_fire_s1(env, plan.plan_id)

    def timers() -> list[Any]:
        return [t for c in customers for t in env.store.silence_timers_of("unit", c) if t.plan_id == plan.plan_id]

    before = timers()
    assert {(t.version, t.days, t.then_plan_id) for t in before} == {(1, 7, silent.plan_id)}
    env.svc.plans.update(env.tenant, plan.plan_id, {"silence": {"days": 3, "then_plan_id": quiet.plan_id}})
    migration: PlanMigration = env.svc.migration
    migration.migrate(env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={}, dry_run=True)
    assert timers() == before  # a dry run changes no timer
    migration.migrate(env.tenant, plan.plan_id, from_version=1, to_version=None, step_map={}, dry_run=False)
    after = timers()
    assert {(t.version, t.days, t.then_plan_id) for t in after} == {(2, 3, quiet.plan_id)}
    # The silent days already counted keep counting: 7 days after the last activity becomes 3 days after it.
    assert sorted(t.due for t in after) == sorted(
        (datetime.fromisoformat(t.due.replace("Z", "+00:00")) - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for t in before
    )
    env.svc.plans.update(env.tenant, plan.plan_id, {"silence": None})
    migration.migrate(env.tenant, plan.plan_id, from_version=2, to_version=None, step_map={}, dry_run=False)
    assert timers() == []  # the version has no silence rule: no timer hands these customers off
