"""In-memory fakes for unit tests: a fixed clock, deterministic ids, the store (store.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)

    def epoch(self) -> float:
        return self.current.timestamp()


class SeqIds:
    """Deterministic ids and secrets."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._n):016d}"

    def secret(self, nbytes: int = 32) -> str:
        return f"secret{next(self._n):08d}" + "x" * max(0, nbytes - 14)


class FakeScheduler:
    """EventBridge Scheduler as the engine sees it: named one-time schedules, a second create of a name is a no-op."""

    def __init__(self) -> None:
        self.schedules: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def schedule(self, *, name: str, expression: str, timezone: str, payload: dict[str, Any]) -> bool:
        self.calls += 1
        if name in self.schedules:
            return False
        self.schedules[name] = {"expression": expression, "timezone": timezone, "payload": payload}
        return True
