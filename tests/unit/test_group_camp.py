"""The 28-day camp sample: it imports as is (CSV and XLSX alike), simulates as 28 days in its four phases, and the
simulator's calendar is what the engine does when the camp runs (a differential check through fate.decide)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import timing
from chalicelib.domain.plans import Plan
from chalicelib.domain.sop import SENT, SKIPPED
from chalicelib.services.sheets import XLSX
from tests.unit.group_plan_env import COHORT, TID, GroupEnv

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CAMP = "28天训练营"
PARAMS = {"name": CAMP, "kind": "group", "group_type": "study"}


def _import(env: GroupEnv, suffix: str = "csv") -> Plan:
    raw = (SAMPLES / f"{CAMP}.{suffix}").read_bytes()
    plan, report = env.plans.import_sheet(env.tenant, raw, "text/csv" if suffix == "csv" else XLSX, PARAMS)
    assert report["steps"] == 31 and report["ignored_columns"] == []
    return plan


def _simulate(env: GroupEnv, plan: Plan, cohort_start: str) -> dict[str, Any]:
    return env.simulator.simulate(env.tenant, plan.plan_id, {"cohort_start": cohort_start})


def test_the_camp_sample_imports_as_is_in_both_formats_as_a_group_plan() -> None:
    env = GroupEnv()
    plan = _import(env)
    again, _ = env.plans.import_sheet(
        env.tenant, (SAMPLES / f"{CAMP}.xlsx").read_bytes(), XLSX, {**PARAMS, "on_conflict": "new_version"}
    )
    assert again.plan_id == plan.plan_id and again.version == plan.version  # the same plan: nothing changed
    assert (plan.kind, plan.groups.types, plan.trigger.type) == ("group", ("study",), "manual")
    days = [s.day for s in plan.steps if s.day is not None]
    assert (min(days), max(days), len(set(days))) == (-7, 20, 28)  # a pre-camp week, two camp weeks, a week after
    phases = list(dict.fromkeys(s.phase for s in plan.steps))
    assert phases == ["预热", "开营", "正课", "结营"]
    by_phase = {p: sorted({s.day for s in plan.steps if s.phase == p and s.day is not None}) for p in phases}
    assert by_phase["预热"] == list(range(-7, 0)) and by_phase["开营"] == [0]
    assert by_phase["正课"] == list(range(1, 14)) and by_phase["结营"] == list(range(14, 21))
    first = plan.steps[0]
    assert (first.title, first.content_type, first.executor, first.at) == ("建群欢迎", "announcement", "owner", "10:00")
    assert first.notes.startswith("新同学进群后") and "欢迎加入" in first.message.text
    assert {s.content_type for s in plan.steps} == {"announcement", "content", "interactive", "practice", "marketing"}


def test_the_camp_simulates_as_its_calendar_for_a_cohort_start() -> None:
    env = GroupEnv()
    plan = _import(env)
    shown = _simulate(env, plan, COHORT)
    assert (shown["days"], shown["first_day"], shown["last_day"], shown["cohort_start"]) == (28, -7, 20, COHORT)
    assert [(p["name"], p["from_day"], p["to_day"]) for p in shown["phases"]] == [
        ("预热", -7, -1),
        ("开营", 0, 0),
        ("正课", 1, 13),
        ("结营", 14, 20),
    ]
    assert shown["summary"] == {"task": 31, "dropped": 0, "skipped": 0} and shown["deferred"] == 0
    first, last = shown["items"][0], shown["items"][-1]
    assert (first["date"], first["at"], first["phase"], first["title"]) == (
        "2026-12-01",
        "2026-12-01T10:00:00+08:00",
        "预热",
        "建群欢迎",
    )
    assert (last["day"], last["date"], last["at"]) == (20, "2026-12-28", "2026-12-28T20:00:00+08:00")


def test_the_groups_receive_limit_shows_as_named_deferrals_in_a_short_month() -> None:
    env = GroupEnv()
    plan = _import(env)
    shown = _simulate(env, plan, "2027-02-08")  # days -7..20 are Feb 1..28: 31 touches, and February allows 28
    deferred = [i for i in shown["items"] if i["reasons"]]
    assert [(i["reason"], i["at"][:10]) for i in deferred] == [("monthly_limit", "2027-03-01")] * 3
    assert sorted(i["day"] for i in deferred) == [18, 19, 20]  # the month's last three wait for March
    assert shown["summary"]["task"] == 31


def test_a_group_plans_simulation_needs_a_valid_cohort_start() -> None:
    env = GroupEnv()
    plan = _import(env)
    with pytest.raises(Exception, match="cohort_start"):
        env.simulator.simulate(env.tenant, plan.plan_id, {"days": 3, "cohort": []})
    with pytest.raises(Exception, match="month"):
        _simulate(env, plan, "2026-13-01")


RULES = [
    "",  # the field's defaults
    json.dumps(  # a strict tenant: practice only 09:00-18:00, announcements only by day, 20 a month
        {
            "content_windows": {
                "practice": {"start": "09:00", "end": "18:00"},
                "announcement": {"start": "09:00", "end": "19:00"},
            },
            "monthly_receive_limit": 20,
        }
    ),
    # Evenings are quiet from 19:00: day -1's 20:00 announcement meets day 0's at 08:30, and the cap defers one.
    json.dumps({"daily_caps": {"announcement": 1, "marketing": 1}, "quiet_hours": {"start": "19:00", "end": "08:30"}}),
]


@pytest.mark.parametrize(
    ("case", "rules"), list(zip(["defaults", "windows_and_limit", "caps_and_quiet_hours"], RULES, strict=True))
)
def test_the_engine_runs_the_camp_as_the_simulator_shows_it(case: str, rules: str) -> None:
    env = GroupEnv(touch_rules=rules)
    plan = env.plans.publish(env.tenant, _import(env).plan_id)
    env.group("wr_camp")
    shown = _simulate(env, plan, COHORT)
    assert env.groups.enroll(env.tenant, plan.plan_id).enrolled  # day -7 10:00 is now: it fires at once
    env.run_calendar()
    sent: list[tuple[str, str]] = []
    moved: list[tuple[str, str]] = []
    buckets = sorted({b for (tid, b) in env.store._sop()["buckets"] if tid == TID})  # scheduled or fired inline
    for bucket in buckets:
        for touch in env.touches(bucket):
            minute = bucket.rsplit(".", 1)[1]
            if touch.state == SENT:
                sent.append((touch.step_id, minute))
            elif touch.state == SKIPPED:
                moved.append((touch.step_id, touch.reason or ""))
    simulated = sorted((i["step_id"], timing.minute_bucket(datetime.fromisoformat(i["at"]))) for i in shown["items"])
    assert sorted(sent) == simulated and len(sent) == 31
    # A rule that moves a due time when it is queued (quiet hours, a window) leaves no closed touch; one decided at
    # the fire (a refused quota, lateness behind a step that went out later) closes the touch as moved: the simulator
    # names the same rule for the same steps.
    reasons = {i["step_id"]: set(i["reasons"]) for i in shown["items"]}
    assert all(r.removeprefix("moved:") in reasons[step_id] for step_id, r in moved)
    at_fire = {step_id for step_id, rs in reasons.items() if rs & {"monthly_limit", "cap", "lateness"}}
    assert {step_id for step_id, _ in moved} == at_fire
    refusals = {"windows_and_limit": "moved:monthly_limit", "caps_and_quiet_hours": "moved:cap"}
    assert refusals.get(case, "none") in {r for _, r in moved} or case == "defaults"
