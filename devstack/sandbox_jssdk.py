"""The sandbox's JS-SDK player: the script a local page loads instead of WeCom's jwxwork (``SIYU_JSSDK_URL``), the
JSONP answers it asks for, and the control route that says which chat is open.

    GET  /sandbox/jssdk.js                       the player (devstack/static/jssdk.js): wx.config / ready / error,
                                                 wx.agentConfig, wx.invoke("getCurExternalContact")
    GET  /sandbox/jssdk/verify.js?kind=corp|agent_config&corpid&agentid?&timestamp&nonceStr&signature&url&cb
                                                 cb({ok, errMsg}): the signature checked against the corp's current
                                                 ticket of that kind for ``url`` (its #fragment ignored), and the
                                                 agentid against the corp's registration (when it names one)
    GET  /sandbox/jssdk/contact.js?corpid&cb     cb({err_msg: "getCurExternalContact:ok", userId}) for the open chat,
                                                 or cb({err_msg: "getCurExternalContact:fail no chat is open"})
    POST /sandbox/jssdk/context                  {corp_id, userid, external_userid}: userid opens their chat with
                                                 external_userid (they must be contacts); GET ?corp_id= shows it
    POST /sandbox/jssdk/close                    {corp_id}: the chat is closed (getCurExternalContact fails again)
    POST /sandbox/jssdk/expire_tickets           {corp_id}: the corp's JS-SDK tickets expire now

Pages go out with ``Cache-Control: no-store`` (sandbox_http.py): tickets and the open chat change.
JSONP (a script element per call) rather than fetch: a page whose CSP lets this script's origin into script-src needs
nothing else (no connect-src, no CORS). The callback name is checked, and the answers are JSON literals with every
non-ASCII character escaped, so nothing a caller sends can become code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from chalicelib import errors
from devstack.sandbox_callbacks import CallbackRegistry
from devstack.sandbox_http import RawAnswer
from devstack.sandbox_io import field_str as _str
from devstack.sandbox_pages import PageRoutes
from devstack.wecom_world import WeComWorld, WorldError

PLAYER = Path(__file__).parent / "static" / "jssdk.js"
CALLBACK_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")
KINDS = ("corp", "agent_config")
CURRENT_CONTACT = "getCurExternalContact"

JS = "application/javascript; charset=utf-8"

Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]


class JsSdkParts(Protocol):
    world: WeComWorld
    callbacks: CallbackRegistry


class JsSdkRoutes:
    """The player's routes of one sandbox: JSON control routes and script answers."""

    def __init__(self, sandbox: JsSdkParts) -> None:
        self._sandbox = sandbox

    def routes(self) -> dict[tuple[str, str], Route]:
        """The JSON routes, for ControlRoutes."""
        return {
            ("POST", "/sandbox/jssdk/context"): self._open_chat,
            ("GET", "/sandbox/jssdk/context"): self._chat,
            ("POST", "/sandbox/jssdk/close"): self._close_chat,
            ("POST", "/sandbox/jssdk/expire_tickets"): self._expire_tickets,
        }

    def register(self, pages: PageRoutes) -> None:
        """Serve the player and its JSONP answers among the sandbox's browser pages."""
        pages.add("GET", "/sandbox/jssdk.js", lambda query, raw: RawAnswer(200, JS, PLAYER.read_bytes()))
        pages.add("GET", "/sandbox/jssdk/verify.js", lambda query, raw: _jsonp(query, self._verify))
        pages.add("GET", "/sandbox/jssdk/contact.js", lambda query, raw: _jsonp(query, self._contact))

    @property
    def _world(self) -> WeComWorld:
        return self._sandbox.world

    def _verify(self, query: dict[str, str]) -> dict[str, Any]:
        kind, corp_id = query.get("kind", ""), query.get("corpid", "")
        if kind not in KINDS or not corp_id:
            return {"ok": False, "errMsg": "invalid arguments"}
        if kind == "agent_config":
            registered = self._registered_agent(corp_id)
            if not query.get("agentid") or (registered and query["agentid"] != registered):
                return {"ok": False, "errMsg": "invalid agentid"}
        problem = self._world.verify_js_signature(corp_id, kind, query)
        return {"ok": not problem, "errMsg": problem or "ok"}

    def _contact(self, query: dict[str, str]) -> dict[str, Any]:
        corp_id = query.get("corpid", "")
        chat = self._world.current_chat(corp_id) if corp_id else None
        if chat is None:
            return {"err_msg": f"{CURRENT_CONTACT}:fail no chat is open"}
        return {"err_msg": f"{CURRENT_CONTACT}:ok", "userId": chat.external_userid}

    def _registered_agent(self, corp_id: str) -> str:
        try:
            return self._sandbox.callbacks.get(corp_id).agent_id
        except errors.SiyuError:  # a corp never registered: nothing to compare with
            return ""

    def _open_chat(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, userid, external_userid = _str(body, "corp_id"), _str(body, "userid"), _str(body, "external_userid")
        self._world.open_chat(corp_id, userid, external_userid)
        return {"corp_id": corp_id, "userid": userid, "external_userid": external_userid}

    def _close_chat(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._world.close_chat(_str(body, "corp_id"))
        return {"ok": True}

    def _chat(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = query.get("corp_id") or ""
        if not corp_id:
            raise errors.InvalidError("corp_id is required")
        chat = self._world.current_chat(corp_id)
        return {"corp_id": corp_id, "chat": None if chat is None else vars(chat)}

    def _expire_tickets(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._world.expire_tickets(_str(body, "corp_id"))
        return {"ok": True}


def _jsonp(query: dict[str, str], answer: Callable[[dict[str, str]], dict[str, Any]]) -> RawAnswer:
    callback = query.get("cb", "")
    if CALLBACK_RE.fullmatch(callback) is None:
        return RawAnswer(400, JS, b"/* cb must be a JavaScript identifier */\n")
    try:
        payload = answer(query)
    except WorldError as exc:
        payload = {"ok": False, "errMsg": str(exc)}
    return RawAnswer(200, JS, f"{callback}({json.dumps(payload, ensure_ascii=True)});\n".encode())
