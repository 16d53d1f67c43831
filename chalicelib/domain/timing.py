"""SOP calendar math: when a step is planned, when the tenant's rules let it go out, what a late fire does.

The one place for it: enrollment (scheduling), the fire handler and the plan simulator all call these functions, so
a preview shows exactly what production will do. Everything is pure: instants come in as aware datetimes, the zone is
a ``ZoneInfo``, nothing reads the clock or the environment.

Conventions:
- Local wall-clock times ("HH:MM") are resolved in the tenant's zone. A time that does not exist (the spring-forward
  gap) moves forward to the first instant that does exist; an ambiguous one (the fall-back repeat) is its first
  occurrence.
- Windows are local wall-clock ``[start, end)``; ``end < start`` wraps past midnight; ``start == end`` is empty.
- Instants come in aware, in any zone, and go out in UTC: Python compares and subtracts datetimes that share a
  tzinfo by wall clock, which is wrong across a fall-back, so callers should keep UTC too and convert only to show
  (``clock.iso_of``).
- Rules move a due time, they never drop it. Only the lateness policy (``skip``) and the cap policy (``drop``) drop,
  and they say so.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.plans import LATENESS_THEN, ON_CAP, Plan, Step, TouchRules, Window

QUIET_HOURS = "quiet_hours"
CONTENT_WINDOW = "content_window"
LATENESS = "lateness"
CAP = "cap"
EARLY = "early"

SEARCH_DAYS = 3  # windows repeat daily: if nothing is allowed within 3 days (DST included) nothing ever is
EARLY_TOLERANCE = timedelta(minutes=1)  # a bucket fires at its minute's start, up to 59 s before a due time in it
_MAX_JUMPS = 64


@dataclass(frozen=True)
class Due:
    """A step occurrence's time: ``planned`` by the plan's calendar, ``due`` after the tenant's rules moved it."""

    planned: datetime
    due: datetime
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What the fire handler does with a touch at fire time.

    ``action`` is "send", "move" (re-schedule at ``due``) or "skip". ``reason`` is the rule that decided a move or a
    skip (None for a send); ``reasons`` lists every rule that moved it on the way, in order.
    """

    action: str
    due: datetime | None = None
    reason: str | None = None
    reasons: tuple[str, ...] = ()


# --- wall clock ----------------------------------------------------------------------------------------------------


def parse_hhmm(value: str) -> time:
    """A plan's "HH:MM" (00:00–23:59). Strict, so a typo in a plan fails validation instead of firing at midnight."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 2 or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise ValueError(f"time must be HH:MM, got {value!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise ValueError(f"time must be between 00:00 and 23:59, got {value!r}")
    return time(hour, minute)


def _aware(instant: datetime, name: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {instant!r}")
    return instant


def _utc(instant: datetime, name: str = "instant") -> datetime:
    """The instant in UTC. Python compares and subtracts datetimes sharing a tzinfo by wall clock (fold ignored), which
    is wrong across a fall-back; in UTC both are exact."""
    return _aware(instant, name).astimezone(UTC)


def _first_offset_change(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (lo, hi] whose UTC offset in ``zone`` differs from lo's (to the second).

    Callers guarantee the offsets at lo and hi differ; zoneinfo does not expose its transitions, so bisect.
    """
    lo_utc, hi_utc = _utc(lo), _utc(hi)
    base = lo_utc.astimezone(zone).utcoffset()
    while hi_utc - lo_utc > timedelta(seconds=1):
        mid = lo_utc + (hi_utc - lo_utc) // 2
        mid = mid.replace(microsecond=0)
        if mid <= lo_utc:
            mid = lo_utc + timedelta(seconds=1)
        if mid.astimezone(zone).utcoffset() == base:
            lo_utc = mid
        else:
            hi_utc = mid
    return hi_utc


def _occurrences(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """Every instant the wall-clock ``day`` ``at`` names: one normally, two in a fall-back repeat, and for a
    spring-forward gap the first instant after it."""
    first = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    second = first.replace(fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    if first_utc == second_utc:
        return [first_utc]
    if first_utc < second_utc:  # fall back: the wall time happens twice
        return [first_utc, second_utc]
    # Spring forward: fold=0 reads the pre-transition offset and lands after the gap, fold=1 before it.
    return [_first_offset_change(second_utc, first_utc, zone)]


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of wall-clock ``day`` ``at`` in ``zone``: a gap moves forward, a repeat takes its first pass."""
    return _occurrences(day, at, zone)[0]


def _next_occurrence(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first instant strictly after ``after`` at which the wall clock reads ``at`` (or would, but for a gap)."""
    after = _utc(after)
    start = after.astimezone(zone).date()
    for offset in range(-1, 3):
        for candidate in _occurrences(start + timedelta(days=offset), at, zone):
            if candidate > after:
                return candidate
    raise AssertionError("a wall-clock time recurs within two days")  # pragma: no cover


def _in_window(wall: time, window: Window) -> bool:
    start, end = parse_hhmm(window.start), parse_hhmm(window.end)
    if start <= end:
        return start <= wall < end
    return wall >= start or wall < end


# --- planning ------------------------------------------------------------------------------------------------------


def check_step_timing(step: Step) -> None:
    """A step is timed either relatively (``after_minutes``) or by calendar (``day`` + ``at``), never both."""
    relative = step.after_minutes is not None
    calendar_ = step.day is not None or step.at is not None
    if relative == calendar_:
        raise ValueError(f"step {step.id}: give either after_minutes or day and at")
    if relative:
        if step.after_minutes is None or step.after_minutes < 0:
            raise ValueError(f"step {step.id}: after_minutes must be ≥ 0")
        return
    if step.day is None or step.at is None:
        raise ValueError(f"step {step.id}: day and at go together")
    if step.day < 0:
        raise ValueError(f"step {step.id}: day must be ≥ 0")
    parse_hhmm(step.at)


def planned_at(step: Step, enrolled_at: datetime, zone: ZoneInfo) -> datetime:
    """When the plan says the step happens, before any rule moves it.

    ``after_minutes`` is elapsed time (absolute, so a DST change in between does not stretch it); ``day``/``at`` is
    the enrollment's local calendar date + ``day`` days at ``at`` local time, so it keeps its wall-clock time across
    DST changes, month ends and year ends.
    """
    _aware(enrolled_at, "enrolled_at")
    check_step_timing(step)
    if step.after_minutes is not None:
        return _utc(enrolled_at) + timedelta(minutes=step.after_minutes)
    assert step.day is not None and step.at is not None
    day = enrolled_at.astimezone(zone).date() + timedelta(days=step.day)
    return local_instant(day, parse_hhmm(step.at), zone)


# --- rules ---------------------------------------------------------------------------------------------------------


def allowed(instant: datetime, content_type: str, rules: TouchRules, zone: ZoneInfo) -> str | None:
    """None if a touch of ``content_type`` may go out at ``instant``; otherwise the rule that forbids it.

    Quiet hours are checked first: they are the stronger promise to the customer.
    """
    wall = _aware(instant).astimezone(zone).time()
    if rules.quiet_hours is not None and _in_window(wall, rules.quiet_hours):
        return QUIET_HOURS
    window = rules.content_windows.get(content_type)
    if window is not None and not _in_window(wall, window):
        return CONTENT_WINDOW
    return None


def _impossible(content_type: str, rules: TouchRules) -> ValueError:
    window = rules.content_windows.get(content_type)
    quiet = rules.quiet_hours
    what = f"the {content_type} content window {window.start}–{window.end}" if window else f"{content_type}"
    if quiet is not None:
        what += f" never falls outside quiet hours {quiet.start}–{quiet.end}"
    else:
        what += " is empty"
    return ValueError(f"{content_type} touches can never be sent: {what}")


def next_allowed(instant: datetime, content_type: str, rules: TouchRules, zone: ZoneInfo) -> tuple[datetime, list[str]]:
    """The earliest instant ≥ ``instant`` at which ``allowed`` is None, and the rules that moved it (ordered, once).

    Each step jumps to where the violated rule stops applying (the end of quiet hours, the start of the content
    window), which can never skip an allowed instant; zone transitions are visited too, since the wall clock jumps
    there. Raises ValueError when quiet hours and the content window can never both be satisfied.
    """
    current = _utc(instant)
    limit = current + timedelta(days=SEARCH_DAYS)
    reasons: list[str] = []
    for _ in range(_MAX_JUMPS):
        reason = allowed(current, content_type, rules, zone)
        if reason is None:
            return current, reasons
        if reason not in reasons:
            reasons.append(reason)
        if reason == QUIET_HOURS:
            assert rules.quiet_hours is not None
            boundary = parse_hhmm(rules.quiet_hours.end)
        else:
            boundary = parse_hhmm(rules.content_windows[content_type].start)
        target = _next_occurrence(current, boundary, zone)
        if target.astimezone(zone).utcoffset() != current.astimezone(zone).utcoffset():
            target = min(target, _first_offset_change(current, target, zone))
        if target > limit:
            break
        current = target
    raise _impossible(content_type, rules)


def due_at(step: Step, enrolled_at: datetime, rules: TouchRules, zone: ZoneInfo) -> Due:
    """The step's planned time and the due time the tenant's rules allow (moved, never dropped)."""
    planned = planned_at(step, enrolled_at, zone)
    due, reasons = next_allowed(planned, step.content_type, rules, zone)
    return Due(planned=planned, due=due, reasons=tuple(reasons))


def calendar_due(step: Step, day0: date, rules: TouchRules, zone: ZoneInfo) -> Due:
    """A calendar step's times counted from a fixed local ``day0`` (a group's cohort start): ``day`` days after it
    (negative: before it) at ``at``, then moved by the rules as ``due_at`` moves any step."""
    if step.day is None or step.at is None or step.after_minutes is not None:
        raise ValueError(f"step {step.id}: a calendar step needs day and at")
    planned = local_instant(day0 + timedelta(days=step.day), parse_hhmm(step.at), zone)
    due, reasons = next_allowed(planned, step.content_type, rules, zone)
    return Due(planned=planned, due=due, reasons=tuple(reasons))


def check_plan_timing(plan: Plan, rules: TouchRules, zone: ZoneInfo) -> None:
    """Raise ValueError naming the first step that is malformed or that the tenant's rules would never let out."""
    probe = local_instant(date(2000, 1, 10), time(0, 0), zone)  # any instant will do: the rules repeat daily
    for step in plan.steps:
        check_step_timing(step)
        try:
            next_allowed(probe, step.content_type, rules, zone)
        except ValueError as exc:
            raise ValueError(f"step {step.id}: {exc}") from exc


# --- firing --------------------------------------------------------------------------------------------------------


def next_slot(step: Step, now: datetime, rules: TouchRules, zone: ZoneInfo) -> tuple[datetime, list[str]]:
    """Where a too-late touch moves: the next time the step's wall-clock time comes round after ``now`` (for
    ``day``/``at`` steps), or simply the next allowed instant (for ``after_minutes`` steps), through the rules."""
    if step.at is not None:
        slot = _next_occurrence(now, parse_hhmm(step.at), zone)
    else:
        slot = _utc(now)
    return next_allowed(slot, step.content_type, rules, zone)


def on_fire(due: datetime, now: datetime, step: Step, rules: TouchRules, zone: ZoneInfo) -> Decision:
    """Decide a touch when its schedule fires at ``now``.

    - More than ``lateness.max_minutes`` late: skip, or move to the next slot, per the step's lateness policy.
    - Fired early (more than a minute before ``due``, e.g. a repeated fall-back hour read as its first pass): move
      back to ``due``, never send early.
    - On time but the rules forbid ``now`` (a fire that drifted into quiet hours): move to the next allowed instant.
    - Otherwise send.
    """
    due, now = _utc(due, "due"), _utc(now, "now")
    lateness = step.lateness
    if lateness.then not in LATENESS_THEN:
        raise ValueError(f"step {step.id}: lateness.then must be one of {LATENESS_THEN}, got {lateness.then!r}")
    if lateness.max_minutes < 0:
        raise ValueError(f"step {step.id}: lateness.max_minutes must be ≥ 0")
    if now - due > timedelta(minutes=lateness.max_minutes):
        if lateness.then == "skip":
            return Decision("skip", reason=LATENESS, reasons=(LATENESS,))
        moved, reasons = next_slot(step, now, rules, zone)
        return Decision("move", moved, LATENESS, (LATENESS, *reasons))
    if due - now > EARLY_TOLERANCE:
        return Decision("move", due, EARLY, (EARLY,))
    if allowed(now, step.content_type, rules, zone) is not None:
        moved, reasons = next_allowed(now, step.content_type, rules, zone)
        return Decision("move", moved, reasons[0], tuple(reasons))
    return Decision("send")


# --- schedules -----------------------------------------------------------------------------------------------------


def minute_bucket(instant: datetime) -> str:
    """The UTC minute "YYYYMMDDHHMM" a due time belongs to: touches due in the same minute share one schedule."""
    return _utc(instant).strftime("%Y%m%d%H%M")


def at_expression(instant: datetime, zone: ZoneInfo) -> str:
    """EventBridge Scheduler's one-time expression in the tenant's zone (ScheduleExpressionTimezone = the zone name),
    to the minute: the bucket's minute, seconds zeroed.

    A fall-back repeated hour is ambiguous as wall-clock time; ``schedule_at`` avoids that by switching to UTC.
    """
    local = _aware(instant).astimezone(zone).replace(second=0, microsecond=0)
    return f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})"


def schedule_at(instant: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """(expression, ScheduleExpressionTimezone) for a bucket: the tenant's zone, or UTC when the local wall-clock
    time is ambiguous (a fall-back repeat), so the schedule neither fires an hour early nor an hour late."""
    local = _aware(instant).astimezone(zone)
    if len(_occurrences(local.date(), local.time().replace(second=0, microsecond=0), zone)) > 1:
        return at_expression(instant, ZoneInfo("UTC")), "UTC"
    return at_expression(instant, zone), zone.key


# --- caps ----------------------------------------------------------------------------------------------------------


def local_day(instant: datetime, zone: ZoneInfo) -> str:
    """The tenant-local calendar date ("YYYY-MM-DD") an instant belongs to: the day caps count in."""
    return _aware(instant).astimezone(zone).date().isoformat()


def cap_key(customer_id: str, content_type: str, instant: datetime, zone: ZoneInfo) -> str:
    """The per-customer, per-content-type, per-local-day counter a touch counts against (across all plans)."""
    return f"{customer_id}#{content_type}#{local_day(instant, zone)}"


def cap_decision(count_today: int, content_type: str, rules: TouchRules, on_cap: str) -> str:
    """Whether one more ``content_type`` touch fits the customer's daily cap: "ok", else the step's policy ("defer"
    to the next local day, or "drop"). ``count_today`` is what was already sent that local day."""
    if on_cap not in ON_CAP:
        raise ValueError(f"on_cap must be one of {ON_CAP}, got {on_cap!r}")
    limit = rules.daily_caps.get(content_type)
    if limit is None or count_today < limit:
        return "ok"
    return on_cap


def next_day_start(instant: datetime, zone: ZoneInfo, content_type: str, rules: TouchRules) -> datetime:
    """Where a capped touch is deferred to: the first instant of the next local day its rules allow."""
    tomorrow = _aware(instant).astimezone(zone).date() + timedelta(days=1)
    return next_allowed(local_instant(tomorrow, time(0, 0), zone), content_type, rules, zone)[0]


def month_key(customer_id: str, instant: datetime, zone: ZoneInfo) -> str:
    """The per-customer, per-local-month counter WeCom's monthly receive limit counts against (all content types)."""
    return f"{customer_id}#{_aware(instant).astimezone(zone).strftime('%Y-%m')}"


def monthly_limit(rules: TouchRules, instant: datetime, zone: ZoneInfo) -> int:
    """How many mass messages one customer may receive in the local month of ``instant``: the tenant's configured
    WeCom limit, or one per day (the days in that month) when it is not configured."""
    if rules.monthly_receive_limit is not None:
        return rules.monthly_receive_limit
    local = _aware(instant).astimezone(zone)
    return calendar.monthrange(local.year, local.month)[1]
