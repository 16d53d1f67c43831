"""What the SOP repositories share: the compact JSON of a ``doc`` and the TTLs, computed exactly as the items
written before the repositories were (so stored items and their sizes do not change)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any


def dump(data: dict[str, Any]) -> str:
    """A document as compact JSON (the ``doc`` attribute)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _whole_seconds(instant: datetime) -> datetime:
    return datetime.fromtimestamp(int(instant.timestamp()), UTC)


def ttl_after(iso_due: str, days: int) -> datetime:
    """An ``expires_at`` ``days`` after an ISO instant (whole seconds, as the TTL attribute stores it)."""
    return _whole_seconds(datetime.fromisoformat(iso_due) + timedelta(days=days))


def ttl_after_minute(minute: str, days: int) -> datetime:
    """An ``expires_at`` ``days`` after a UTC minute ``YYYYMMDDHHMM``."""
    due = datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC)
    return _whole_seconds(due + timedelta(days=days))
