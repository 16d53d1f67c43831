"""SOP calendar math (issue 3 §3, §9): planned times on the tenant's local calendar (month ends, DST), quiet hours and
content windows that move a due time, lateness at fire time, schedule buckets, caps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import timing
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Lateness, Plan, PlanStatus, Step, TouchRules, Trigger, Window
from chalicelib.domain.timing import (
    Decision,
    allowed,
    at_expression,
    cap_decision,
    cap_key,
    check_plan_timing,
    due_at,
    minute_bucket,
    month_key,
    monthly_limit,
    next_allowed,
    next_day_start,
    on_fire,
    parse_hhmm,
    planned_at,
    schedule_at,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
RULES = TouchRules()  # quiet 22:00–08:00, interactive 08:00–18:00, marketing 18:00–22:00, 1 marketing a day


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=SH)


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0, *, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NY, fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def day_step(day: int, at: str, content_type: str = "service", **kwargs: object) -> Step:
    return Step(id="s", content_type=content_type, message=Message("…"), day=day, at=at, **kwargs)  # type: ignore[arg-type]


def rel_step(minutes: int, content_type: str = "service", **kwargs: object) -> Step:
    return Step(id="s", content_type=content_type, message=Message("…"), after_minutes=minutes, **kwargs)  # type: ignore[arg-type]


# --- planned_at: the local calendar -----------------------------------------------------------------------------------


def test_after_minutes_counts_from_enrollment() -> None:
    assert planned_at(rel_step(5), sh(2026, 12, 1, 21, 50), SH) == sh(2026, 12, 1, 21, 55)


def test_after_minutes_is_elapsed_time_across_a_dst_change() -> None:
    # 01:50 EST + 20 minutes of real time is 03:10 EDT (the clock jumped 02:00 → 03:00), not a wall-clock 02:10.
    got = planned_at(rel_step(20), ny(2026, 3, 8, 1, 50), NY)
    assert got == utc(2026, 3, 8, 7, 10)
    assert got.astimezone(NY).strftime("%H:%M %Z") == "03:10 EDT"


@pytest.mark.parametrize(
    ("enrolled", "day", "expected"),
    [
        ((2026, 1, 31, 10, 0), 1, (2026, 2, 1, 9, 0)),  # January's last day + 1
        ((2027, 2, 28, 10, 0), 1, (2027, 3, 1, 9, 0)),  # no Feb 29 in 2027
        ((2028, 2, 28, 10, 0), 1, (2028, 2, 29, 9, 0)),  # leap year
        ((2028, 2, 28, 10, 0), 2, (2028, 3, 1, 9, 0)),
        ((2026, 12, 31, 10, 0), 1, (2027, 1, 1, 9, 0)),  # year end
        ((2026, 4, 30, 23, 59), 31, (2026, 5, 31, 9, 0)),
    ],
)
def test_day_steps_cross_month_and_year_ends(
    enrolled: tuple[int, int, int, int, int], day: int, expected: tuple[int, int, int, int, int]
) -> None:
    assert planned_at(day_step(day, "09:00"), sh(*enrolled), SH) == sh(*expected)


def test_day_counts_from_the_local_calendar_date_not_the_utc_one() -> None:
    # 00:30 on Dec 2 in Shanghai is still Dec 1 in UTC: day 0 is Dec 2 for the tenant.
    step = day_step(0, "20:00")
    assert planned_at(step, sh(2026, 12, 2, 0, 30), SH) == sh(2026, 12, 2, 20, 0)
    assert planned_at(step, utc(2026, 12, 1, 16, 30), SH) == sh(2026, 12, 2, 20, 0)


def test_day_zero_before_the_join_is_planned_in_the_past() -> None:
    # The lateness policy decides what happens to it at fire time (see the on_fire tests).
    assert planned_at(day_step(0, "20:00"), sh(2026, 12, 1, 21, 50), SH) == sh(2026, 12, 1, 20, 0)


def test_spring_forward_nonexistent_time_moves_to_the_first_valid_instant() -> None:
    got = planned_at(day_step(1, "02:30"), ny(2026, 3, 7, 10, 0), NY)
    assert got == utc(2026, 3, 8, 7, 0)  # 03:00 EDT: the instant the clock jumps to
    assert got.astimezone(NY).strftime("%H:%M %Z") == "03:00 EDT"


def test_fall_back_ambiguous_time_takes_the_first_occurrence() -> None:
    got = planned_at(day_step(1, "01:30"), ny(2026, 10, 31, 10, 0), NY)
    assert got == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST an hour later
    assert got.astimezone(NY).utcoffset() == timedelta(hours=-4)


def test_day_steps_keep_their_wall_clock_time_across_dst() -> None:
    enrolled = ny(2026, 3, 7, 10, 0)
    times = [planned_at(day_step(d, "09:00"), enrolled, NY) for d in (0, 1, 2)]
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in times] == ["03-07 09:00", "03-08 09:00", "03-09 09:00"]
    assert times[1] - times[0] == timedelta(hours=23)  # the short day
    assert times[2] - times[1] == timedelta(hours=24)
    fall = [planned_at(day_step(d, "09:00"), ny(2026, 10, 31, 10, 0), NY) for d in (0, 1)]
    assert fall[1] - fall[0] == timedelta(hours=25)


def test_shanghai_has_no_dst() -> None:
    times = [planned_at(day_step(d, "09:00"), sh(2026, 3, 7, 10, 0), SH) for d in range(3)]
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(hours=24)}


@pytest.mark.parametrize(
    "step",
    [
        Step(id="x", content_type="service", message=Message()),  # no timing
        Step(id="x", content_type="service", message=Message(), after_minutes=5, day=1, at="09:00"),  # both
        Step(id="x", content_type="service", message=Message(), day=1),  # day without at
        Step(id="x", content_type="service", message=Message(), day=-1, at="09:00"),
        Step(id="x", content_type="service", message=Message(), after_minutes=-5),
        Step(id="x", content_type="service", message=Message(), day=1, at="9:00"),
    ],
)
def test_malformed_step_timing_is_rejected(step: Step) -> None:
    with pytest.raises(ValueError, match=r"step x|HH:MM"):
        planned_at(step, sh(2026, 12, 1, 10, 0), SH)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        planned_at(rel_step(5), datetime(2026, 12, 1, 10, 0), SH)
    with pytest.raises(ValueError, match="aware"):
        allowed(datetime(2026, 12, 1, 10, 0), "service", RULES, SH)


@pytest.mark.parametrize("value", ["7:00", "24:00", "12:60", "ab:cd", "12:00:00", ""])
def test_parse_hhmm_is_strict(value: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(value)


# --- allowed / next_allowed: quiet hours and content windows ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hm", "content_type", "expected"),
    [
        ((22, 30), "interactive", "quiet_hours"),
        ((7, 59), "interactive", "quiet_hours"),
        ((8, 0), "interactive", None),  # quiet hours end exclusive, window start inclusive
        ((17, 59), "interactive", None),
        ((19, 0), "interactive", "content_window"),
        ((10, 0), "marketing", "content_window"),
        ((18, 0), "marketing", None),
        ((21, 59), "marketing", None),
        ((22, 0), "marketing", "quiet_hours"),  # quiet hours win over the window's end
        ((12, 0), "service", None),  # no content window for service
        ((23, 0), "service", "quiet_hours"),
    ],
)
def test_allowed(hm: tuple[int, int], content_type: str, expected: str | None) -> None:
    assert allowed(sh(2026, 12, 1, *hm), content_type, RULES, SH) == expected


@pytest.mark.parametrize(
    ("at", "content_type", "expected", "reasons"),
    [
        ((2026, 12, 1, 22, 30), "interactive", (2026, 12, 2, 8, 0), ["quiet_hours"]),
        ((2026, 12, 1, 7, 0), "interactive", (2026, 12, 1, 8, 0), ["quiet_hours"]),
        ((2026, 12, 1, 19, 0), "interactive", (2026, 12, 2, 8, 0), ["content_window"]),
        ((2026, 12, 1, 10, 0), "marketing", (2026, 12, 1, 18, 0), ["content_window"]),
        ((2026, 12, 1, 7, 0), "marketing", (2026, 12, 1, 18, 0), ["quiet_hours", "content_window"]),
        ((2026, 12, 1, 23, 0), "marketing", (2026, 12, 2, 18, 0), ["quiet_hours", "content_window"]),
        ((2026, 12, 31, 23, 0), "service", (2027, 1, 1, 8, 0), ["quiet_hours"]),
        ((2026, 12, 1, 20, 0), "marketing", (2026, 12, 1, 20, 0), []),
    ],
)
def test_next_allowed_defaults(
    at: tuple[int, int, int, int, int],
    content_type: str,
    expected: tuple[int, int, int, int, int],
    reasons: list[str],
) -> None:
    assert next_allowed(sh(*at), content_type, RULES, SH) == (sh(*expected), reasons)


def test_next_allowed_keeps_seconds_of_an_allowed_instant() -> None:
    instant = sh(2026, 12, 1, 21, 55, 42)
    assert next_allowed(instant, "marketing", RULES, SH) == (instant, [])


def test_combined_windows_overlapping_quiet_hours() -> None:
    # Marketing 20:00–23:00 with quiet 22:00–08:00: only 20:00–22:00 is usable.
    rules = TouchRules(content_windows={"marketing": Window("20:00", "23:00")})
    assert next_allowed(sh(2026, 12, 1, 22, 30), "marketing", rules, SH) == (
        sh(2026, 12, 2, 20, 0),
        ["quiet_hours", "content_window"],
    )
    assert allowed(sh(2026, 12, 1, 21, 30), "marketing", rules, SH) is None


def test_window_wrapping_midnight() -> None:
    rules = TouchRules(quiet_hours=None, content_windows={"content": Window("21:00", "02:00")})
    assert allowed(sh(2026, 12, 1, 1, 0), "content", rules, SH) is None
    assert allowed(sh(2026, 12, 1, 2, 0), "content", rules, SH) == "content_window"
    assert next_allowed(sh(2026, 12, 1, 3, 0), "content", rules, SH) == (sh(2026, 12, 1, 21, 0), ["content_window"])


def test_no_quiet_hours_and_no_window_allows_everything() -> None:
    rules = TouchRules(quiet_hours=None, content_windows={})
    assert next_allowed(sh(2026, 12, 1, 3, 0), "marketing", rules, SH) == (sh(2026, 12, 1, 3, 0), [])


@pytest.mark.parametrize(
    "rules",
    [
        TouchRules(content_windows={"marketing": Window("23:00", "23:30")}),  # fully inside quiet hours
        TouchRules(content_windows={"marketing": Window("10:00", "10:00")}),  # an empty window
    ],
)
def test_impossible_rules_raise(rules: TouchRules) -> None:
    with pytest.raises(ValueError, match="marketing touches can never be sent"):
        next_allowed(sh(2026, 12, 1, 12, 0), "marketing", rules, SH)


def test_a_single_allowed_minute_is_found() -> None:
    rules = TouchRules(quiet_hours=Window("00:01", "00:00"), content_windows={})
    assert next_allowed(sh(2026, 12, 1, 12, 0), "marketing", rules, SH) == (sh(2026, 12, 2, 0, 0), ["quiet_hours"])


def test_check_plan_timing_names_the_step() -> None:
    rules = TouchRules(content_windows={"marketing": Window("23:00", "23:30")})
    plan = Plan(
        plan_id="pl",
        version=1,
        name="p",
        status=PlanStatus.DRAFT,
        trigger=Trigger("manual"),
        steps=(rel_step(5), Step(id="s9", content_type="marketing", message=Message(), day=1, at="23:10")),
    )
    with pytest.raises(ValueError, match=r"step s9: .*23:00–23:30.*22:00–08:00"):
        check_plan_timing(plan, rules, SH)
    check_plan_timing(plan, RULES, SH)  # the defaults are fine


def test_next_allowed_across_spring_forward() -> None:
    assert next_allowed(ny(2026, 3, 7, 23, 0), "service", RULES, NY) == (ny(2026, 3, 8, 8, 0), ["quiet_hours"])
    # Quiet hours ending inside the gap (02:30 does not exist): allowed from the first valid instant, 03:00 EDT.
    rules = TouchRules(quiet_hours=Window("22:00", "02:30"), content_windows={})
    got, _ = next_allowed(ny(2026, 3, 8, 1, 0), "service", rules, NY)
    assert got == utc(2026, 3, 8, 7, 0)


def test_next_allowed_sees_the_fall_back_repeat() -> None:
    # Quiet 01:30–08:00. At 01:45 EDT the clock falls back to 01:00 EST within 15 minutes: allowed again then.
    rules = TouchRules(quiet_hours=Window("01:30", "08:00"), content_windows={})
    got, reasons = next_allowed(ny(2026, 11, 1, 1, 45), "service", rules, NY)
    assert got == utc(2026, 11, 1, 6, 0)
    assert got.astimezone(NY).strftime("%H:%M %Z") == "01:00 EST"
    assert reasons == ["quiet_hours"]


def test_next_allowed_terminates_quickly_in_every_zone() -> None:
    for name in ("Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu"):
        zone = ZoneInfo(name)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for hours in range(0, 24 * 400, 37):  # a year of odd hours, crossing every transition
            instant = start + timedelta(hours=hours)
            got, _ = next_allowed(instant, "marketing", RULES, zone)
            assert got >= instant and got - instant < timedelta(days=2)
            assert allowed(got, "marketing", RULES, zone) is None


# --- due_at -----------------------------------------------------------------------------------------------------------


def test_due_at_moves_but_never_drops() -> None:
    assert due_at(day_step(0, "23:00", "interactive"), sh(2026, 12, 1, 9, 0), RULES, SH) == timing.Due(
        planned=sh(2026, 12, 1, 23, 0), due=sh(2026, 12, 2, 8, 0), reasons=("quiet_hours",)
    )
    assert due_at(day_step(1, "10:00", "marketing"), sh(2026, 12, 1, 9, 0), RULES, SH) == timing.Due(
        planned=sh(2026, 12, 2, 10, 0), due=sh(2026, 12, 2, 18, 0), reasons=("content_window",)
    )
    on_time = due_at(rel_step(5), sh(2026, 12, 1, 21, 50), RULES, SH)
    assert on_time == timing.Due(planned=sh(2026, 12, 1, 21, 55), due=sh(2026, 12, 1, 21, 55), reasons=())


# --- on_fire: lateness and drift --------------------------------------------------------------------------------------

MARKETING_20 = day_step(1, "20:00", "marketing", lateness=Lateness(60, "next_slot"))


def test_on_time_and_within_lateness_sends() -> None:
    due = sh(2026, 12, 2, 20, 0)
    assert on_fire(due, due + timedelta(seconds=30), MARKETING_20, RULES, SH) == Decision("send")
    assert on_fire(due, due + timedelta(minutes=60), MARKETING_20, RULES, SH) == Decision("send")  # ≤ max


def test_bucket_firing_at_its_minute_start_sends() -> None:
    due = sh(2026, 12, 1, 21, 55, 42)
    assert on_fire(due, sh(2026, 12, 1, 21, 55, 0), rel_step(5), RULES, SH) == Decision("send")


def test_too_late_moves_a_day_step_to_its_next_slot() -> None:
    due = sh(2026, 12, 2, 20, 0)
    got = on_fire(due, sh(2026, 12, 2, 21, 1), MARKETING_20, RULES, SH)
    assert got == Decision("move", sh(2026, 12, 3, 20, 0), "lateness", ("lateness",))


def test_next_slot_passes_through_the_rules() -> None:
    step = day_step(0, "07:00", "interactive")  # planned 07:00, due 08:00 (quiet hours)
    got = on_fire(sh(2026, 12, 1, 8, 0), sh(2026, 12, 1, 10, 0), step, RULES, SH)
    assert got == Decision("move", sh(2026, 12, 2, 8, 0), "lateness", ("lateness", "quiet_hours"))


def test_too_late_moves_an_after_minutes_step_to_the_next_allowed_instant() -> None:
    step = rel_step(5)
    late_at_night = on_fire(sh(2026, 12, 1, 21, 0), sh(2026, 12, 1, 22, 30), step, RULES, SH)
    assert late_at_night == Decision("move", sh(2026, 12, 2, 8, 0), "lateness", ("lateness", "quiet_hours"))
    by_day = on_fire(sh(2026, 12, 1, 10, 0), sh(2026, 12, 1, 11, 30), step, RULES, SH)
    assert by_day == Decision("move", sh(2026, 12, 1, 11, 30), "lateness", ("lateness",))


def test_too_late_with_skip() -> None:
    step = day_step(1, "20:00", "marketing", lateness=Lateness(60, "skip"))
    got = on_fire(sh(2026, 12, 2, 20, 0), sh(2026, 12, 2, 21, 30), step, RULES, SH)
    assert got == Decision("skip", None, "lateness", ("lateness",))


def test_day_zero_after_the_step_time_next_slot_is_tomorrow() -> None:
    # Joined 21:50; the day-0 20:00 step is 110 minutes late at the join.
    joined = sh(2026, 12, 1, 21, 50)
    step = day_step(0, "20:00", "marketing", lateness=Lateness(60, "next_slot"))
    due = due_at(step, joined, RULES, SH).due
    assert on_fire(due, joined, step, RULES, SH) == Decision("move", sh(2026, 12, 2, 20, 0), "lateness", ("lateness",))
    skip = day_step(0, "20:00", "marketing", lateness=Lateness(60, "skip"))
    assert on_fire(due, joined, skip, RULES, SH).action == "skip"
    # Joined 20:30: within the 60 minutes, it goes out at once.
    assert on_fire(due, sh(2026, 12, 1, 20, 30), step, RULES, SH) == Decision("send")


def test_next_slot_keeps_wall_clock_time_across_dst() -> None:
    step = day_step(0, "09:00", lateness=Lateness(30, "next_slot"))
    got = on_fire(ny(2026, 3, 7, 9, 0), ny(2026, 3, 7, 12, 0), step, RULES, NY)
    assert got.due == ny(2026, 3, 8, 9, 0)
    assert got.due is not None and got.due.astimezone(NY).utcoffset() == timedelta(hours=-4)


def test_a_fire_drifting_into_quiet_hours_moves() -> None:
    got = on_fire(sh(2026, 12, 1, 21, 59), sh(2026, 12, 1, 22, 0, 30), MARKETING_20, RULES, SH)
    assert got == Decision("move", sh(2026, 12, 2, 18, 0), "quiet_hours", ("quiet_hours", "content_window"))


def test_an_early_fire_waits_for_its_due_time() -> None:
    due = sh(2026, 12, 2, 20, 0)
    assert on_fire(due, due - timedelta(hours=1), MARKETING_20, RULES, SH) == Decision("move", due, "early", ("early",))


def test_bad_lateness_policy_raises() -> None:
    step = day_step(1, "20:00", lateness=Lateness(60, "later"))
    with pytest.raises(ValueError, match=r"lateness\.then"):
        on_fire(sh(2026, 12, 2, 20, 0), sh(2026, 12, 2, 20, 0), step, RULES, SH)


# --- schedules --------------------------------------------------------------------------------------------------------


def test_minute_bucket_is_the_utc_minute() -> None:
    assert minute_bucket(sh(2026, 12, 1, 21, 55, 42)) == "202612011355"
    assert minute_bucket(sh(2026, 12, 1, 21, 55, 0)) == minute_bucket(sh(2026, 12, 1, 21, 55, 59, 999))
    assert minute_bucket(ny(2026, 12, 31, 19, 5)) == minute_bucket(utc(2027, 1, 1, 0, 5)) == "202701010005"


def test_at_expression_is_local_to_the_minute() -> None:
    assert at_expression(sh(2026, 12, 1, 21, 55, 42), SH) == "at(2026-12-01T21:55:00)"
    assert at_expression(utc(2026, 12, 1, 13, 55, 42), SH) == "at(2026-12-01T21:55:00)"
    assert at_expression(utc(2026, 7, 1, 13, 0), NY) == "at(2026-07-01T09:00:00)"


def test_schedule_at_avoids_ambiguous_wall_times() -> None:
    assert schedule_at(sh(2026, 12, 1, 21, 55, 42), SH) == ("at(2026-12-01T21:55:00)", "Asia/Shanghai")
    second_pass = ny(2026, 11, 1, 1, 30, fold=1)  # 01:30 EST, 06:30 UTC
    assert schedule_at(second_pass, NY) == ("at(2026-11-01T06:30:00)", "UTC")
    assert schedule_at(ny(2026, 11, 1, 1, 30), NY) == ("at(2026-11-01T05:30:00)", "UTC")


# --- caps -------------------------------------------------------------------------------------------------------------


def test_cap_key_is_per_local_day() -> None:
    assert cap_key("c1", "marketing", sh(2026, 12, 1, 23, 30), SH) == "c1#marketing#2026-12-01"
    assert cap_key("c1", "marketing", utc(2026, 12, 1, 17, 0), SH) == "c1#marketing#2026-12-02"  # 01:00 local


@pytest.mark.parametrize(
    ("count", "content_type", "on_cap", "expected"),
    [
        (0, "marketing", "defer", "ok"),
        (1, "marketing", "defer", "defer"),
        (1, "marketing", "drop", "drop"),
        (7, "interactive", "drop", "ok"),  # no cap configured for interactive
    ],
)
def test_cap_decision(count: int, content_type: str, on_cap: str, expected: str) -> None:
    assert cap_decision(count, content_type, RULES, on_cap) == expected


def test_cap_decision_follows_tenant_caps() -> None:
    rules = TouchRules(daily_caps={"marketing": 2, "content": 0})
    assert cap_decision(1, "marketing", rules, "defer") == "ok"
    assert cap_decision(2, "marketing", rules, "defer") == "defer"
    assert cap_decision(0, "content", rules, "drop") == "drop"
    with pytest.raises(ValueError, match="on_cap"):
        cap_decision(0, "marketing", rules, "later")


def test_next_day_start_is_the_next_local_days_first_allowed_instant() -> None:
    capped = sh(2026, 12, 2, 20, 0)
    assert next_day_start(capped, SH, "marketing", RULES) == sh(2026, 12, 3, 18, 0)
    assert next_day_start(capped, SH, "interactive", RULES) == sh(2026, 12, 3, 8, 0)
    assert next_day_start(sh(2026, 12, 31, 20, 0), SH, "service", RULES) == sh(2027, 1, 1, 8, 0)
    free = TouchRules(quiet_hours=None, content_windows={})
    assert next_day_start(capped, SH, "service", free) == sh(2026, 12, 3, 0, 0)


def test_monthly_limit_defaults_to_days_in_the_local_month() -> None:
    assert monthly_limit(RULES, sh(2028, 2, 10, 12, 0), SH) == 29
    assert monthly_limit(RULES, sh(2027, 2, 10, 12, 0), SH) == 28
    assert monthly_limit(RULES, utc(2026, 11, 30, 17, 0), SH) == 31  # Dec 1, 01:00 in Shanghai
    assert monthly_limit(TouchRules(monthly_receive_limit=4), sh(2026, 12, 1, 12, 0), SH) == 4
    assert month_key("c1", utc(2026, 11, 30, 17, 0), SH) == "c1#2026-12"
