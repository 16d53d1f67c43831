"""The local Scheduler pump: moto stores schedules but never fires them, so this does.

Every few seconds it lists the schedule group on the moto server, invokes the same fire handler the real Scheduler
targets for each ``at()`` schedule that is due (read in its ScheduleExpressionTimezone), and honours
ActionAfterCompletion=DELETE. Every five minutes it runs the backstop, as the deployed periodic job does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
BACKSTOP_EVERY = 300.0


def due_time(expression: str, timezone: str) -> datetime | None:
    """The instant an ``at(...)`` expression names in its timezone (None for any other expression)."""
    match = AT_RE.match(expression)
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))


class SchedulerPump:
    def __init__(
        self,
        client: Any,
        group: str,
        *,
        fire: Callable[[dict[str, Any]], Any],
        backstop: Callable[[], Any],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_backstop = 0.0

    def run_once(self) -> int:
        """Fire every due schedule once; returns how many fired."""
        fired = 0
        now = self.now()
        paginator = self.client.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group):
            for summary in page.get("Schedules", []):
                detail = self.client.get_schedule(Name=summary["Name"], GroupName=self.group)
                due = due_time(detail.get("ScheduleExpression", ""), detail.get("ScheduleExpressionTimezone", "UTC"))
                if due is None or due > now:
                    continue
                payload = json.loads(detail["Target"].get("Input") or "{}")
                try:
                    self.fire(payload)
                except Exception as exc:  # a failed fire stays for the backstop, like a Scheduler retry would
                    self.log(f"pump: fire failed for {summary['Name']}: {type(exc).__name__}: {exc}")
                    continue
                fired += 1
                if detail.get("ActionAfterCompletion") == "DELETE":
                    self.client.delete_schedule(Name=summary["Name"], GroupName=self.group)
        return fired

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                fired = self.run_once()
                if fired:
                    self.log(f"pump: fired {fired} schedule(s)")
                if time.monotonic() - self._last_backstop >= BACKSTOP_EVERY:
                    self._last_backstop = time.monotonic()
                    self.backstop()
            except Exception as exc:  # the pump must outlive a hiccup of the local services
                self.log(f"pump: {type(exc).__name__}: {exc}")

    def start(self) -> SchedulerPump:
        self._last_backstop = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="scheduler-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
