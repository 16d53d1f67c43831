"""Transport-level faults the sandbox can inject, besides the errcodes the world answers (WeComWorld.inject):
WeCom's front end answering HTTP 5xx, and a slow answer that a client's timeout gives up on.

    POST /sandbox/faults {"api": "externalcontact/add_msg_template", "http_status": 502, "times": 2}
    POST /sandbox/faults {"api": "externalcontact/add_msg_template", "late_ms": 4000, "times": 1}

An HTTP fault answers before the world sees the call (nothing changes). A delay is served *after* the world handled
the call, so the change is made even when the client stops waiting: the timeout WeCom really produces, where a
task may exist although the caller never learnt its msgid.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from devstack.wecom_world.api import api_name

MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class HttpFault:
    http_status: int | None = None  # answer this status (5xx) instead of calling the world
    late_ms: int = 0  # answer this much later (after the world handled the call)


class HttpFaults:
    """Per-API queues of transport faults, each used by one call; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[HttpFault]] = {}

    def add(self, api: str, fault: HttpFault, times: int) -> None:
        with self._lock:
            self._queues.setdefault(api_name(api), []).extend([fault] * times)

    def take(self, path: str) -> HttpFault | None:
        """The next fault for the API at ``path``, consumed; None when there is none."""
        with self._lock:
            queue = self._queues.get(api_name(path))
            return queue.pop(0) if queue else None

    def pending(self, api: str) -> int:
        """How many faults of ``api`` are still to be met."""
        with self._lock:
            return len(self._queues.get(api_name(api), ()))

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
