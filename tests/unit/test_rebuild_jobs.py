"""A metrics rebuild as a job: its days one at a time with a known share done, continued by the backstop's share,
never advanced twice from the same step, and left alone by bulk enrollment's backstop."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import jobs
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.ports import CustomerFilter
from chalicelib.services import rebuild_jobs
from chalicelib.services.jobs import jobs_of
from chalicelib.services.rebuild_jobs import RebuildJobs
from tests.unit.conftest import Env, make_channel


class Ticks:
    """Elapsed time that moves one second a read: a budget of n seconds covers about n days."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Counting:
    """The metrics service's rebuild, recording the ranges asked for."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.asked: list[tuple[str, str]] = []

    def rebuild(self, tenant: Any, date_from: str, date_to: str) -> dict[str, Any]:
        self.asked.append((date_from, date_to))
        report: dict[str, Any] = self.real.rebuild(tenant, date_from, date_to)
        return report


def test_a_rebuild_runs_day_by_day_and_the_backstop_finishes_it(env: Env) -> None:
    ch = make_channel(env)
    env.scan(ch.state)
    env.scan(ch.state)
    day = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    before = env.svc.metrics.today(env.tenant)
    metrics = Counting(env.svc.metrics)
    rebuilds = RebuildJobs(env.store, metrics, env.clock, env.svc.ids, monotonic=Ticks())
    started = rebuilds.start(env.tenant, "2026-11-01", day)  # the start's slice: a few days of its budget
    assert started["status"] == "running" and 0 < started["done"] < len(started["days"])
    view = jobs.rebuild_view(started)
    assert view.percent == started["done"] * 100 // len(started["days"]) and view.title.endswith(f"至 {day}")
    assert rebuilds.continue_running(env.tenant, budget_seconds=100) == 1
    done = rebuilds.status("unit", started["job_id"])
    assert done["status"] == "done" and done["done"] == len(done["days"]) and done["facts"] >= 2
    assert jobs.rebuild_view(done).percent == 100
    assert metrics.asked == [(d, d) for d in done["days"]]  # each day once, alone
    assert env.svc.metrics.today(env.tenant).funnel == before.funnel  # the counters rebuilt are the counters
    assert env.store.put_job("unit", dict(started, seq=started["seq"] + 1)) is False  # a stale step is refused
    assert rebuilds.continue_running(env.tenant, budget_seconds=100) == 0


def test_a_bad_range_starts_nothing_and_other_jobs_are_not_rebuilds(env: Env) -> None:
    rebuilds = RebuildJobs(env.store, env.svc.metrics, env.clock, env.svc.ids)
    with pytest.raises(InvalidError):
        rebuilds.start(env.tenant, "2026-12-01", "2026-11-01")
    with pytest.raises(InvalidError):
        rebuilds.start(env.tenant, "2026-01-01", "2026-12-01")  # over 92 days
    assert [j for j in env.store.running_jobs("unit") if j["kind"] == "metrics_rebuild"] == []
    steps = [{"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "好"}}]
    plan = env.svc.plans.create(env.tenant, {"name": "唤醒", "trigger": {"type": "manual"}, "steps": steps})
    env.svc.plans.publish(env.tenant, plan.plan_id)
    bulk = env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter())
    with pytest.raises(NotFoundError):
        rebuilds.status("unit", bulk["job_id"])


def test_bulk_enrollments_backstop_leaves_a_running_rebuild_alone(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild_jobs, "SLICE_SECONDS", 0.0)  # the start records the job only
    face = jobs_of(env.svc)
    view = face.start_rebuild(env.tenant, "2026-11-30", "2026-12-01")
    assert view.running and view.percent == 0 and view.kind == jobs.REBUILD
    assert env.svc.bulk.continue_running(env.tenant, budget_seconds=10) == 0
    assert face.get("unit", view.job_id).running
    assert [v.job_id for v in face.list("unit") if v.kind == jobs.REBUILD] == [view.job_id]
