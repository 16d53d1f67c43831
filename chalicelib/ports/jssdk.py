"""The JS-SDK tickets port: what a page that runs WeCom's JS-SDK (the chat sidebar) needs of WeCom's server API.

Apart from WeComPort so a service that signs pages depends on two calls, not the whole API; WeComClient implements
both (adapters/wecom/tickets.py), cached per corp and app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.ports.wecom import WeComCredentials


class JsApiTicketPort(Protocol):
    def corp_jsapi_ticket(self, creds: WeComCredentials) -> str:
        """The corp's jsapi_ticket (``get_jsapi_ticket``), which signs ``wx.config``."""
        ...

    def agent_jsapi_ticket(self, creds: WeComCredentials) -> str:
        """The app's ticket (``ticket/get?type=agent_config``), which signs ``wx.agentConfig``."""
        ...
