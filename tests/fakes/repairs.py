"""An in-memory repair queue with SQS's contract, on an injected clock: an item handed out comes back after its
lease unless done; ``retry`` hides it for its backoff; ``dead`` moves it to the dead letters with its reason."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from datetime import timedelta

from chalicelib.domain.repairs import RepairDelivery, RepairItem
from chalicelib.ports import Clock

LEASE_SECONDS = 120


@dataclass
class _Entry:
    item: RepairItem
    visible_at: float
    receives: int = 0
    last_reason: str = ""


class MemoryRepairQueue:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.entries: dict[str, _Entry] = {}
        self.dead_letters: list[tuple[RepairItem, str]] = []
        self.puts = 0
        self.fail_puts = False  # a queue that refuses (SQS down)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def put(self, item: RepairItem, *, delay_seconds: int = 0) -> None:
        if self.fail_puts:
            raise ConnectionError("queue unavailable")
        with self._lock:
            self.puts += 1
            self.entries[f"m{next(self._ids)}"] = _Entry(item, self._now() + delay_seconds)

    def receive(self, limit: int) -> list[RepairDelivery]:
        out: list[RepairDelivery] = []
        with self._lock:
            now = self._now()
            for receipt, entry in self.entries.items():
                if len(out) >= limit:
                    break
                if entry.visible_at <= now:
                    entry.receives += 1
                    entry.visible_at = now + LEASE_SECONDS
                    out.append(RepairDelivery(entry.item, receipt, entry.receives))
        return out

    def done(self, delivery: RepairDelivery) -> None:
        with self._lock:
            self.entries.pop(delivery.receipt, None)

    def retry(self, delivery: RepairDelivery, *, delay_seconds: int, reason: str) -> None:
        with self._lock:
            entry = self.entries.get(delivery.receipt)
            if entry is not None:
                self.entries[delivery.receipt] = replace(
                    entry, visible_at=self._now() + delay_seconds, last_reason=reason
                )

    def dead(self, delivery: RepairDelivery, *, reason: str) -> None:
        with self._lock:
            entry = self.entries.pop(delivery.receipt, None)
            if entry is not None:
                self.dead_letters.append((entry.item, reason))

    def pending(self) -> list[RepairItem]:
        return [e.item for e in self.entries.values()]

    def wait_all(self) -> timedelta:
        """How far the clock must move for every pending item to be visible again."""
        latest = max((e.visible_at for e in self.entries.values()), default=self._now())
        return timedelta(seconds=max(0.0, latest - self._now()))
