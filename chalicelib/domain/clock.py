"""Calendar helpers shared by every service: the clock itself is injected, these only convert."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def iso_local(epoch: int | float, zone: ZoneInfo) -> str:
    """ISO-8601 with the tenant's offset, to the second (what the API shows)."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).isoformat(timespec="seconds")


def local_date(epoch: int | float, zone: ZoneInfo) -> str:
    """The tenant-local calendar date of an instant: the day caps and daily counters belong to."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).date().isoformat()


def iso_of(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).isoformat(timespec="seconds")


def utc_key(dt: datetime) -> str:
    """A sortable UTC instant ("2026-11-22T03:00:00Z"): index keys use it so order is exact across DST."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str, zone: ZoneInfo) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is read in ``zone`` (the tenant's calendar)."""
    parsed = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
