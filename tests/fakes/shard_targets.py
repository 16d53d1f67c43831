"""Module-level targets for ``ProcessShards`` in tests: a spawned worker imports them by name, so they live in a
module with no heavy imports."""

from __future__ import annotations

import os
from typing import Any

PREPARED: list[int] = []


def prepare() -> None:
    """What a worker runs as it starts (the bench builds its services here)."""
    PREPARED.append(os.getpid())


def echo(event: dict[str, Any]) -> dict[str, Any]:
    """The worker's process id, whether it was prepared, and the event it was given."""
    return {"pid": os.getpid(), "prepared": [os.getpid()] == PREPARED, "event": event}


def boom(event: dict[str, Any]) -> None:
    raise RuntimeError(f"shard {event['shard']['index']} failed")
