"""When a staff task that met a transient WeCom error is tried again, and when it stops being tried (issue 9 §1).

Pure: the caller passes the times. WeCom blocks a caller that exceeded an API's frequency (45009) for 60 s, then for
60 min (wecom.md, "Frequency"), so a 45009 waits out the block it caused; every other transient error (-1 busy,
45033 concurrency, a token WeCom kept rejecting, gettoken, HTTP 5xx, timeouts) backs off exponentially. The backstop
(every 5 minutes) is what runs a retry, so a retry happens at the first backstop run after ``retry_at``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

FREQUENCY_LIMIT = 45009
FIRST_BLOCK = timedelta(seconds=60)  # 45009: WeCom's first block
LONG_BLOCK = timedelta(minutes=60)  # 45009 again: WeCom's long block
BASE_BACKOFF = timedelta(seconds=30)  # other transient errors: 30 s, 60 s, 2 min, … capped
MAX_BACKOFF = timedelta(minutes=10)
MIN_RETRY_WINDOW = timedelta(minutes=180)  # a deadline leaves room for two retries after WeCom's long blocks


def retry_after(errcode: int | None, attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1 = the first) that answered ``errcode`` (None:
    no errcode, the call did not get through)."""
    if errcode == FREQUENCY_LIMIT:
        return FIRST_BLOCK if attempts <= 1 else LONG_BLOCK
    return min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deadline(due: datetime, max_late_minutes: int) -> datetime:
    """The last moment a task may still be handed to WeCom: as late as its step's lateness policy lets a touch go
    out (``Lateness.max_minutes``), but at least ``MIN_RETRY_WINDOW`` after it was due."""
    return due + max(timedelta(minutes=max_late_minutes), MIN_RETRY_WINDOW)


def next_try(now: datetime, errcode: int | None, attempts: int, until: datetime) -> datetime | None:
    """When to try again, or None when that would be past ``until`` (the task is then final: failed)."""
    at = now + retry_after(errcode, attempts)
    return at if at <= until else None
