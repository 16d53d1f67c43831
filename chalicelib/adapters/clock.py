"""The real clocks and id generator (services get them injected; tests use fixed ones).

``SystemClock`` is what a deployed stage uses. ``FileClock`` is the local stack's one movable clock: the app (in
``chalice local``), the Scheduler pump and the WeCom sandbox all read the same small JSON file, so moving it
(``POST /sandbox/clock``) moves every part of the stack together. Tests use it frozen, at an hour they choose.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ClockMovedBackError(ValueError):
    """The local clock only moves forwards: schedules, TTLs and dedupe windows assume time never runs back."""


@dataclass(frozen=True)
class ClockState:
    """The virtual instant ``anchor`` that was current at real instant ``real_anchor`` (None: frozen at anchor)."""

    anchor: datetime
    real_anchor: datetime | None

    def now(self, real_now: datetime) -> datetime:
        if self.real_anchor is None:
            return self.anchor
        return self.anchor + (real_now - self.real_anchor)

    def to_json(self) -> str:
        real = None if self.real_anchor is None else self.real_anchor.isoformat()
        return json.dumps({"anchor": self.anchor.isoformat(), "real_anchor": real})

    @classmethod
    def from_json(cls, text: str) -> ClockState:
        doc = json.loads(text)
        anchor = datetime.fromisoformat(doc["anchor"]).astimezone(UTC)
        real = doc.get("real_anchor")
        return cls(anchor, None if real is None else datetime.fromisoformat(real).astimezone(UTC))


class FileClock:
    """A clock kept in a JSON file that several processes share; a missing file means the real time.

    The file is re-read only when it changes (inode, mtime, size), so ``now()`` costs one ``stat``.
    """

    def __init__(self, path: Path | str, real: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._real = real or SystemClock().now
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._state: ClockState | None = None

    def state(self) -> ClockState | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # os.replace gives every write a new inode
        if key != self._seen:
            self._state = ClockState.from_json(self.path.read_text(encoding="utf-8"))
            self._seen = key
        return self._state

    def now(self) -> datetime:
        real = self._real()
        state = self.state()
        return real if state is None else state.now(real)

    def real_now(self) -> datetime:
        """The machine's own time, for showing next to the virtual one."""
        return self._real()

    def epoch(self) -> float:
        return self.now().timestamp()

    def set(self, to: datetime, *, running: bool = True) -> datetime:
        """Move the clock to ``to`` (never backwards); running clocks then tick with real time."""
        if to.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (with an offset)")
        with self._lock:
            current = self.now()
            if to < current:
                raise ClockMovedBackError(f"the clock is at {current.isoformat()}; it never moves backwards")
            self._write(ClockState(to.astimezone(UTC), self._real() if running else None))
        return to

    def freeze(self, at: datetime) -> None:
        """Stop the clock at ``at`` (tests); may go anywhere, since a test starts a fresh world."""
        with self._lock:
            self._write(ClockState(at.astimezone(UTC), None))

    def _write(self, state: ClockState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(state.to_json(), encoding="utf-8")
        os.replace(tmp, self.path)
        self._seen = None


class RandomIds:
    """Short random ids (prefix + 16 base36 chars ≈ 82 bits), safe as WeCom states (≤ 30 chars)."""

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))

    def secret(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)
