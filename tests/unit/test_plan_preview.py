"""The console's calendar preview (Simulator.calendar): the same simulator, a cohort by join times, laid out by day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chalicelib.errors import InvalidError, NotFoundError
from tests.unit.conftest import Env

STEPS = [
    {"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "你好"}, "title": "破冰"},
    {"id": "s2", "day": 1, "at": "20:00", "content_type": "marketing", "message": {"text": "9.9元体验"}},
]


def _plan(env: Env) -> str:
    return env.svc.plans.create(env.tenant, {"name": "新客", "trigger": {"type": "manual"}, "steps": STEPS}).plan_id


def test_a_cohort_joining_at_given_times_is_laid_out_by_day_with_moves_named(env: Env) -> None:
    plan_id = _plan(env)
    preview = env.svc.simulation.calendar(
        env.tenant, plan_id, start=date(2026, 12, 1), joins=["10:00", "23:30"], days=3
    )
    assert preview.start == "2026-12-01" and preview.kind == "customer"
    assert [d.date for d in preview.days] == ["2026-12-01", "2026-12-02"]  # both day-1 touches on 12-02
    entries = [(d.date, e.time, e.customer, e.step_id) for d in preview.days for e in d.entries]
    assert entries[0] == ("2026-12-01", "10:05", "10:00加入", "s1")
    assert preview.days[0].entries[0].title == "破冰"  # the simulated version's step titles name the entries
    late = next(e for d in preview.days for e in d.entries if e.customer == "23:30加入" and e.step_id == "s1")
    assert late.deferred and "免打扰时段" in late.reasons
    assert preview.totals == {"task": 4, "dropped": 0, "skipped": 0, "deferred": 1}


def test_bad_requests_are_refused_before_simulating(env: Env) -> None:
    plan_id = _plan(env)
    day = date(2026, 12, 1)
    for joins, days in (([], 3), (["25:00"], 3), (["10:00"], 0), (["10:00"], 91), (["10:00"] * 25, 3)):
        with pytest.raises(InvalidError):
            env.svc.simulation.calendar(env.tenant, plan_id, start=day, joins=joins, days=days)
    with pytest.raises(NotFoundError):
        env.svc.simulation.calendar(env.tenant, "pl_nosuch", start=day, joins=["10:00"], days=3)


def test_a_group_plans_preview_is_its_camp_calendar_from_day_0(env: Env) -> None:
    sheet = (Path(__file__).resolve().parents[2] / "samples" / "28天训练营.csv").read_bytes()
    made = env.svc.plans.upload(env.tenant, sheet, "text/csv", {"name": "28天训练营", "kind": "group"})
    assert made.plan is not None
    preview = env.svc.simulation.calendar(
        env.tenant, made.plan.plan_id, start=date(2026, 12, 14), joins=["10:00"], days=3
    )
    assert preview.kind == "group" and preview.start == "2026-12-14"
    assert preview.days[0].label.startswith("第-7天 · 12-07") and preview.days[0].entries[0].title == "建群欢迎"
    assert sum(len(d.entries) for d in preview.days) == len(made.plan.steps)  # the whole camp, not 3 days
