"""The local Scheduler pump: moto stores schedules but never fires them, so this does.

Every few seconds it lists the schedule group on the moto server, invokes the same fire handler the real Scheduler
targets for each ``at()`` schedule that is due on the stack's clock (read in its ScheduleExpressionTimezone), earliest
first, and honours ActionAfterCompletion=DELETE. Each tick also calls the periodic jobs, which decide by their own
rates (devstack.jobs.PeriodicJobs). `make run` replaces the tick with a walk over the virtual time
(devstack.timewarp.Walker), so a moved clock fires everything in time order.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def due_time(expression: str, timezone: str) -> datetime | None:
    """The instant an ``at(...)`` expression names in its timezone (None for any other expression)."""
    match = AT_RE.match(expression)
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))


@dataclass(frozen=True)
class Pending:
    """One ``at()`` schedule of the group: when it is due and what the fire handler gets."""

    name: str
    due: datetime
    payload: dict[str, Any]
    delete_after: bool


@dataclass(frozen=True)
class Fired:
    name: str
    due: datetime
    report: Any


class SchedulerPump:
    def __init__(
        self,
        client: Any,
        group: str,
        *,
        fire: Callable[[dict[str, Any]], Any],
        backstop: Callable[[], Any],
        now: Callable[[], datetime],
        interval: float = 5.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.client = client
        self.group = group
        self.fire = fire
        self.backstop = backstop
        self.now = now
        self.interval = interval
        self.log = log
        self.tick: Callable[[], Any] = self._tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._details: dict[str, Pending | None] = {}  # at() schedules are created once, never updated: cache them

    def pending(self) -> list[Pending]:
        """The group's ``at()`` schedules, earliest first (one list call; a get only for names not seen before)."""
        names: list[str] = []
        for page in self.client.get_paginator("list_schedules").paginate(GroupName=self.group):
            names += [summary["Name"] for summary in page.get("Schedules", [])]
        for name in names:
            if name not in self._details:
                detail = self.client.get_schedule(Name=name, GroupName=self.group)
                due = due_time(detail.get("ScheduleExpression", ""), detail.get("ScheduleExpressionTimezone", "UTC"))
                payload = json.loads(detail["Target"].get("Input") or "{}")
                after = detail.get("ActionAfterCompletion") == "DELETE"
                self._details[name] = None if due is None else Pending(name, due, payload, after)
        self._details = {name: self._details[name] for name in names}
        return sorted((p for p in self._details.values() if p is not None), key=lambda p: (p.due, p.name))

    def fire_due(self, now: datetime | None = None) -> list[Fired]:
        """Fire every schedule due at ``now`` (default: the clock), earliest first; what each fire reported."""
        at = self.now() if now is None else now
        fired: list[Fired] = []
        for item in self.pending():
            if item.due > at:
                break
            try:
                report = self.fire(item.payload)
            except Exception as exc:  # a failed fire stays for the backstop, like a Scheduler retry would
                self.log(f"pump: fire failed for {item.name}: {type(exc).__name__}: {exc}")
                continue
            fired.append(Fired(item.name, item.due, report))
            if item.delete_after:
                self.client.delete_schedule(Name=item.name, GroupName=self.group)
                self._details.pop(item.name, None)
        return fired

    def run_once(self, now: datetime | None = None) -> int:
        """Fire every due schedule once; returns how many fired."""
        return len(self.fire_due(now))

    def _tick(self) -> None:
        fired = self.run_once()
        if fired:
            self.log(f"pump: fired {fired} schedule(s)")
        self.backstop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # the pump must outlive a hiccup of the local services
                self.log(f"pump: {type(exc).__name__}: {exc}")

    def start(self) -> SchedulerPump:
        self._thread = threading.Thread(target=self._loop, name="scheduler-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
