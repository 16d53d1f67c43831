"""WeComClient's JS-SDK tickets (附录「JS-SDK使用权限签名算法」, document/path/96909): the corp's jsapi_ticket
(``GET /cgi-bin/get_jsapi_ticket``, signs ``wx.config``) and the app's (``GET /cgi-bin/ticket/get?type=agent_config``,
signs ``wx.agentConfig``).

Both live 7200 s (``expires_in``) and their fetches are rationed hard: in one hour at most 400 per corp and 100 per
app, after which WeCom answers 45009 for the rest of the hour. So, like the access_token, each is cached per corp and
app (the secret names the app), refreshed ``margin`` seconds before it expires, by one thread at a time per key.
A refresh that fails (45009, WeCom busy, unreachable) while the cached ticket is still valid serves that ticket:
the page still gets a signature that works, and the next request tries again. A rejected access_token (40014/42001)
is the client's own concern (``_api`` refreshes it once). Tickets are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.answers import required_str

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

logger = logging.getLogger("siyu.wecom")

TICKET_TTL = 7200  # expires_in of both tickets when WeCom names none
CORP_TICKET_API = "get_jsapi_ticket"
AGENT_TICKET_API = "ticket/get"
AGENT_TICKET_QUERY = {"type": "agent_config"}


@dataclass(frozen=True)
class _Ticket:
    value: str
    refresh_at: float  # on the cache's monotonic clock: from here on a request refreshes it
    expires_at: float  # WeCom stops honouring it here: a failed refresh serves it until then


class TicketCache:
    """Tickets by key, each refreshed by one thread at a time; the others wait for it and reuse its ticket."""

    def __init__(self, monotonic: Callable[[], float], margin: float) -> None:
        self._monotonic = monotonic
        self._margin = margin
        self._tickets: dict[tuple[str, ...], _Ticket] = {}
        self._refresh_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], fetch: Callable[[], tuple[str, float]]) -> str:
        """The cached ticket for ``key``, or a new one from ``fetch`` (-> ticket, expires_in seconds)."""
        cached = self._usable(key)
        if cached is not None:
            return cached
        with self._lock:
            refresh_lock = self._refresh_locks.setdefault(key, threading.Lock())
        with refresh_lock:
            cached = self._usable(key)  # another thread refreshed it while this one waited
            if cached is not None:
                return cached
            try:
                value, expires_in = fetch()
            except errors.UpstreamError as exc:
                fallback = self._unexpired(key)
                if fallback is None:
                    raise
                logger.warning("ticket refresh failed; serving the cached ticket", extra={"error": exc.code})
                return fallback
            now = self._monotonic()
            lifetime = max(expires_in - self._margin, expires_in / 2)
            with self._lock:
                self._tickets[key] = _Ticket(value, now + lifetime, now + expires_in)
            return value

    def _usable(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            ticket = self._tickets.get(key)
        return ticket.value if ticket is not None and self._monotonic() < ticket.refresh_at else None

    def _unexpired(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            ticket = self._tickets.get(key)
        return ticket.value if ticket is not None and self._monotonic() < ticket.expires_at else None


class JsApiTicketsMixin:
    """The tickets half of WeComClient (see the module docstring); implements ports.JsApiTicketPort."""

    _tickets: TicketCache

    if TYPE_CHECKING:

        def _api(
            self,
            creds: WeComCredentials,
            api: str,
            body: dict[str, Any] | None,
            *,
            method: str = "POST",
            query: dict[str, str] | None = None,
        ) -> dict[str, Any]: ...

    def corp_jsapi_ticket(self, creds: WeComCredentials) -> str:
        return self._ticket(creds, CORP_TICKET_API, {})

    def agent_jsapi_ticket(self, creds: WeComCredentials) -> str:
        return self._ticket(creds, AGENT_TICKET_API, AGENT_TICKET_QUERY)

    def _ticket(self, creds: WeComCredentials, api: str, query: dict[str, str]) -> str:
        key = (api, creds.corp_id, hashlib.sha256(creds.secret.encode()).hexdigest())

        def fetch() -> tuple[str, float]:
            data = self._api(creds, api, None, method="GET", query=dict(query))
            return required_str(data, "ticket", api), float(data.get("expires_in") or TICKET_TTL)

        return self._tickets.get(key, fetch)
