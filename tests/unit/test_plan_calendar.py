"""The simulator's answer as a calendar (domain/plan_calendar.py): by day and time, deferrals named."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain import simulate
from chalicelib.domain.plan_calendar import calendar, reason_name
from chalicelib.domain.plan_documents import plan_from_json
from chalicelib.domain.plans import TouchRules, Window

ZONE = ZoneInfo("Asia/Shanghai")


def test_a_simulated_cohort_by_day_and_time_with_its_deferrals_named() -> None:
    plan = plan_from_json(
        {
            "name": "新客",
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "你好"}},
                {"id": "s2", "day": 1, "at": "23:00", "content_type": "marketing", "message": {"text": "9.9"}},
            ],
        }
    )
    rules = TouchRules(quiet_hours=Window("22:00", "08:00"))
    joined = datetime(2026, 12, 1, 23, 30, tzinfo=ZONE)
    cohort = [simulate.SimCustomer("客户1", joined), simulate.SimCustomer("客户2", joined - timedelta(hours=10))]
    touches = simulate.to_json(simulate.simulate(plan, rules, ZONE, cohort, 3), ZONE)["touches"]
    days = calendar(touches, date(2026, 12, 1))
    assert [d.label for d in days] == ["第0天 · 12-01 周二", "第1天 · 12-02 周三", "第2天 · 12-03 周四"]
    first = days[0].entries
    assert [(e.time, e.customer, e.step_id, e.outcome_name, e.deferred) for e in first] == [
        ("13:35", "客户2", "s1", "触达", False)
    ]
    second = {(e.customer, e.step_id): e for e in days[1].entries}
    moved = second[("客户1", "s1")]  # joined at 23:30: its 23:35 welcome waits for the quiet hours to end
    assert (moved.time, moved.planned, moved.reasons) == ("08:00", "12-01 23:35", ("免打扰时段",))
    third = {(e.customer, e.step_id): e for e in days[2].entries}
    late = third[("客户2", "s2")]  # 23:00 is in the quiet hours, and marketing waits for its evening window
    assert (late.time, late.planned, late.reasons) == ("18:00", "12-02 23:00", ("免打扰时段", "内容时段"))
    assert all(e.time >= "08:00" for d in days[1:] for e in d.entries)


def test_a_camp_item_uses_its_at_and_title_and_unknown_reasons_stay_readable() -> None:
    item = {
        "step_id": "d0",
        "title": "开营仪式",
        "planned_at": "2026-12-07T20:00:00+08:00",
        "at": "2026-12-07T20:00:00+08:00",
        "outcome": "skipped",
        "reason": "something_new",
        "reasons": [],
    }
    (day,) = calendar([item], date(2026, 12, 14))
    assert day.label == "第-7天 · 12-07 周一"
    (entry,) = day.entries
    assert (entry.title, entry.outcome_name, entry.reasons, entry.deferred) == (
        "开营仪式",
        "跳过",
        ("something_new",),
        False,
    )
    assert reason_name("cap") == "每日触达上限" and reason_name(None) == ""
