"""WeComClient's JS-SDK tickets (附录「JS-SDK使用权限签名算法」, document/path/96909): the corp's jsapi_ticket
(``GET /cgi-bin/get_jsapi_ticket``, signs ``wx.config``) and the app's (``GET /cgi-bin/ticket/get?type=agent_config``,
signs ``wx.agentConfig``).

Both live 7200 s (``expires_in``) and their fetches are rationed hard: in one hour at most 400 per corp and 100 per
app, after which WeCom answers 45009 for the rest of the hour. So, like the access_token, each is cached per corp and
app (the secret names the app) in the client's RefreshingCache (cache.py): refreshed 300 s before it expires, by one
thread at a time per key, and a refresh that fails (45009, WeCom busy, unreachable) while the cached ticket is still
valid serves that ticket: the page still gets a signature that works, and the next request tries again. A rejected
access_token (40014/42001) is the client's own concern (``_api`` refreshes it once). Tickets are never logged.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from chalicelib.adapters.wecom.answers import required_str
from chalicelib.adapters.wecom.cache import RefreshingCache
from chalicelib.adapters.wecom.mixin import ApiMixin

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

TICKET_TTL = 7200  # expires_in of both tickets when WeCom names none
CORP_TICKET_API = "get_jsapi_ticket"
AGENT_TICKET_API = "ticket/get"
AGENT_TICKET_QUERY = {"type": "agent_config"}


class JsApiTicketsMixin(ApiMixin):
    """The tickets half of WeComClient (see the module docstring); implements ports.JsApiTicketPort."""

    _cache: RefreshingCache  # the client's, shared with the access_token (cache.py)

    def corp_jsapi_ticket(self, creds: WeComCredentials) -> str:
        return self._ticket(creds, CORP_TICKET_API, {})

    def agent_jsapi_ticket(self, creds: WeComCredentials) -> str:
        return self._ticket(creds, AGENT_TICKET_API, AGENT_TICKET_QUERY)

    def _ticket(self, creds: WeComCredentials, api: str, query: dict[str, str]) -> str:
        key = ("ticket", api, creds.corp_id, hashlib.sha256(creds.secret.encode()).hexdigest())

        def fetch() -> tuple[str, float]:
            data = self._api(creds, api, None, method="GET", query=dict(query))
            return required_str(data, "ticket", api), float(data.get("expires_in") or TICKET_TTL)

        return self._cache.get(key, fetch, fallback=True)
