"""The local stack's time machine: move the one clock forwards and fire, in time order, everything that became due.

``Walker`` walks the virtual time from one instant to another. It stops at each due schedule's minute (including
schedules that earlier fires of the same walk created) and at each periodic job's tick, sets the clock to that
instant first (so ``created_at`` and due checks look as if the time had passed), and runs what is due there. The
pump's own tick is the same walk up to the clock's current time, without moving it.

Bounded work: a walk longer than an hour coalesces the periodic jobs to one run per job per virtual hour (on the hour);
schedules still fire at their own minutes. A single move may go at most ``MAX_MOVE`` ahead.

``ClockControl`` is what the sandbox's ``GET/POST /sandbox/clock`` call: parse and check the request, refuse a stage
that is not local (403) and a move backwards (409), walk, and answer with a summary.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib import errors
from chalicelib.adapters.clock import ClockMovedBackError, FileClock
from chalicelib.settings import LOCAL_STAGE
from devstack.jobs import PeriodicJobs
from devstack.pump import SchedulerPump
from devstack.terminal import span

HOUR = 3600.0
MAX_MOVE = timedelta(days=31)
MAX_STOPS = 20_000  # a guard: a 31-day walk stops about 744 times on the hour, plus the schedules' minutes
_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: Any) -> timedelta:
    """An ISO-8601 duration without years or months (PnW, PnDTnHnMnS), e.g. ``PT10H``, ``P1D``, ``P2DT30M``."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or not any(match.groupdict().values()) or text.endswith("T"):
        raise errors.InvalidError(
            f"advance must be an ISO-8601 duration such as PT10H, P1D or P2DT30M (weeks, days, hours, minutes, "
            f"seconds), got {text!r}"
        )
    try:
        return timedelta(**{unit: float(value) for unit, value in match.groupdict().items() if value})
    except (OverflowError, ValueError) as exc:  # more days than datetime holds (P9999999999D)
        raise _too_far() from exc


def parse_instant(text: Any) -> datetime:
    """An ISO-8601 date-time with its offset, e.g. ``2026-12-05T08:00:00+08:00``."""
    try:
        at = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise errors.InvalidError(f"to must be an ISO-8601 date-time with an offset, e.g. 2026-12-05T08:00:00+08:00, "
                                  f"got {text!r}")  # fmt: skip
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:  # hours off year 1 or 9999: no UTC instant
        raise _too_far() from exc


def _too_far() -> errors.InvalidError:
    return errors.InvalidError(f"move at most {MAX_MOVE.days} days at a time (the pump catches up on the way)")


class ClockMovedBackConflict(errors.ConflictError):
    code = "clock_moved_back"


class ClockNotMovableError(errors.ForbiddenError):
    code = "clock_not_movable"


@dataclass
class Summary:
    """What a walk did: from and to, the schedules it fired (and the tasks they made), the job runs, the stops."""

    started: datetime
    ended: datetime
    schedules_fired: int = 0
    tasks: int = 0
    job_runs: Counter[str] = field(default_factory=Counter)
    stops: int = 0
    coalesced: bool = False

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "from": self.started.astimezone(zone).isoformat(timespec="seconds"),
            "to": self.ended.astimezone(zone).isoformat(timespec="seconds"),
            "schedules_fired": self.schedules_fired,
            "tasks_created": self.tasks,
            "job_runs": dict(sorted(self.job_runs.items())),
            "stops": self.stops,
            "jobs_coalesced_hourly": self.coalesced,
        }


class Walker:
    """Fires schedules and runs periodic jobs in time order between two instants (see the module docstring)."""

    def __init__(self, pump: SchedulerPump, jobs: PeriodicJobs, clock: FileClock) -> None:
        self.pump = pump
        self.jobs = jobs
        self.clock = clock
        self._lock = threading.Lock()
        self._seen = clock.now()  # how far the walks have gone

    def catch_up(self) -> Summary:
        """The pump's tick: whatever came due up to the clock's time now, in time order (the clock is not moved)."""
        with self._lock:
            return self._walk(self._seen, self.clock.now(), move=False)

    def move_to(self, target: datetime) -> Summary:
        """Move the clock to ``target`` (never backwards), firing what becomes due on the way."""
        with self._lock:
            start = self.clock.now()
            if target < start:
                raise ClockMovedBackError(f"the clock is at {start.isoformat()}; it never moves backwards")
            long = (target - start).total_seconds() > HOUR  # the move itself, not the few seconds before it
            summary = self._walk(min(self._seen, start), target, move=True, coalesce=long)  # what is due, then on
            summary.started = start
        runs = ", ".join(f"{name} {n}" for name, n in sorted(summary.job_runs.items())) or "none"
        self.pump.log(
            f"clock moved {span(round((target - start).total_seconds()))} ahead: {summary.schedules_fired} schedule(s) "
            f"fired, {summary.tasks} task(s); job runs: {runs}"
        )
        return summary

    def _walk(self, start: datetime, end: datetime, *, move: bool, coalesce: bool | None = None) -> Summary:
        long = (end - start).total_seconds() > HOUR if coalesce is None else coalesce
        summary = Summary(start, end, coalesced=long)
        at, first = start, True
        while summary.stops < MAX_STOPS:
            stop, on_the_hour = self._next_stop(at, first, summary.coalesced)
            if stop is None or stop > end:
                break
            if move:
                self._set(stop)
            for fired in self.pump.fire_due(stop):
                summary.schedules_fired += 1
                summary.tasks += int(fired.report.get("tasks") or 0) if isinstance(fired.report, dict) else 0
            if on_the_hour or not summary.coalesced:
                floor, slack = (HOUR, HOUR / 2) if summary.coalesced else (0.0, PeriodicJobs.SLACK)
                summary.job_runs.update(self.jobs.run_due(stop.timestamp(), floor=floor, slack=slack).keys())
            summary.stops += 1
            at, first = stop, False
        else:
            self.pump.log(f"pump: stopped the walk after {MAX_STOPS} stops at {at.isoformat()}")
        if move:
            self._set(end)
        self._seen = max(self._seen, end)
        return summary

    def _next_stop(self, after: datetime, inclusive: bool, coalesced: bool) -> tuple[datetime | None, bool]:
        """The next instant with something due (strictly after ``after`` unless ``inclusive``), and whether it is a
        periodic jobs' stop."""
        candidates: list[tuple[datetime, bool]] = []
        for item in self.pump.pending():
            if item.due > after or (inclusive and item.due <= after):
                candidates.append((max(item.due, after), False))
                break
        if coalesced:
            hour = (int(after.timestamp() // HOUR) + (0 if inclusive else 1)) * HOUR
            if self.jobs.jobs():
                candidates.append((datetime.fromtimestamp(hour, UTC), True))
        else:
            tick = self.jobs.next_tick(after.timestamp())
            if tick is not None:
                when = max(datetime.fromtimestamp(tick, UTC), after)
                if inclusive or when > after:
                    candidates.append((when, True))
        if not candidates:
            return None, False
        stop = min(c[0] for c in candidates)
        return stop, any(c[1] and c[0] == stop for c in candidates)

    def _set(self, at: datetime) -> None:
        """Move the clock to ``at`` unless it is there already (a running clock moves on while a stop runs)."""
        if at > self.clock.now():
            running = (state := self.clock.state()) is None or state.real_anchor is not None
            self.clock.set(at, running=running)


class Mover(Protocol):
    def move_to(self, target: datetime) -> Summary: ...


class ClockControl:
    """``GET`` and ``POST /sandbox/clock`` for the sandbox: only a local stack's clock moves."""

    def __init__(self, walker: Mover | None, clock: FileClock, *, stage: str, timezone: str) -> None:
        self.walker = walker
        self.clock = clock
        self.stage = stage
        self.zone = ZoneInfo(timezone)

    def show(self) -> dict[str, Any]:
        now, machine = self.clock.now(), self.clock.real_now()
        state = self.clock.state()
        return {
            "now": now.astimezone(self.zone).isoformat(timespec="seconds"),
            "timezone": str(self.zone),
            "unix": int(now.timestamp()),
            "machine": machine.astimezone().isoformat(timespec="seconds"),
            "ahead_seconds": int((now - machine).total_seconds()),
            "running": state is None or state.real_anchor is not None,
            "stage": self.stage,
            "movable": self.stage == LOCAL_STAGE and self.walker is not None,
        }

    def move(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.stage != LOCAL_STAGE or self.walker is None:
            raise ClockNotMovableError(f"the clock moves only in the local stage (this stack's stage is {self.stage})")
        unknown = sorted(set(body) - {"advance", "to"})
        if unknown or len(body) != 1:
            raise errors.InvalidError('give exactly one of {"advance": "PT10H"} or {"to": "2026-12-05T08:00:00+08:00"}'
                                      + (f"; unknown field(s): {', '.join(unknown)}" if unknown else ""))  # fmt: skip
        now = self.clock.now()
        if "advance" in body:
            advance = parse_duration(body["advance"])
            if advance > MAX_MOVE:  # checked before adding: now + a huge duration overflows
                raise _too_far()
            target = now + advance
        else:
            target = parse_instant(body["to"])
        if target < now:
            raise ClockMovedBackConflict(
                f"the clock is at {now.astimezone(self.zone).isoformat(timespec='seconds')}; it never moves backwards"
            )
        if target - now > MAX_MOVE:
            raise _too_far()
        try:
            summary = self.walker.move_to(target)
        except ClockMovedBackError as exc:  # a concurrent move got there first
            raise ClockMovedBackConflict(str(exc)) from exc
        return {**summary.to_json(self.zone), "clock": self.show()}
