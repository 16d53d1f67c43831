"""WeComClient's short-lived credentials: the access_token and the JS-SDK tickets, each cached per corp and app.

One shape for all of them: a value WeCom hands out for ``expires_in`` seconds (7200), refreshed ``margin`` seconds
before it expires (or at half its life, for a short one), by one thread at a time per key while the others wait and
reuse what it got. ``stale`` is a value WeCom just rejected: it is never served again, but a different one another
thread cached meanwhile is. With ``fallback``, a refresh that fails (an UpstreamError: a rate limit, WeCom busy or
unreachable) while the cached value has not expired yet serves that value instead of failing the call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import errors

logger = logging.getLogger("siyu.wecom")

Key = tuple[str, ...]


@dataclass(frozen=True)
class _Cached:
    value: str
    refresh_at: float  # on the cache's monotonic clock: from here on a request refreshes it
    expires_at: float  # WeCom stops honouring it here


class RefreshingCache:
    """Values by key (see the module docstring); thread-safe. ``bounded()`` client views share it."""

    def __init__(self, monotonic: Callable[[], float], margin: float) -> None:
        self._monotonic = monotonic
        self._margin = margin
        self._values: dict[Key, _Cached] = {}
        self._refresh_locks: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(
        self, key: Key, fetch: Callable[[], tuple[str, float]], *, stale: str | None = None, fallback: bool = False
    ) -> str:
        """The cached value for ``key``, or a new one from ``fetch`` (-> value, expires_in seconds)."""
        cached = self._usable(key, stale)
        if cached is not None:
            return cached
        with self._lock:
            refresh_lock = self._refresh_locks.setdefault(key, threading.Lock())
        with refresh_lock:
            cached = self._usable(key, stale)  # another thread refreshed it while this one waited
            if cached is not None:
                return cached
            try:
                value, expires_in = fetch()
            except errors.UpstreamError as exc:
                kept = self._unexpired(key, stale) if fallback else None
                if kept is None:
                    raise
                logger.warning("refresh failed; serving the cached value until it expires", extra={"error": exc.code})
                return kept
            now = self._monotonic()
            lifetime = max(expires_in - self._margin, expires_in / 2)
            with self._lock:
                self._values[key] = _Cached(value, now + lifetime, now + expires_in)
            return value

    def _usable(self, key: Key, stale: str | None) -> str | None:
        with self._lock:
            cached = self._values.get(key)
        if cached is None or cached.value == stale or self._monotonic() >= cached.refresh_at:
            return None
        return cached.value

    def _unexpired(self, key: Key, stale: str | None) -> str | None:
        with self._lock:
            cached = self._values.get(key)
        if cached is None or cached.value == stale or self._monotonic() >= cached.expires_at:
            return None
        return cached.value
