"""JS-SDK tickets (附录「JS-SDK使用权限签名算法」, 96909), and what the JS-SDK player asks of them.

``get_jsapi_ticket`` gives the corp's jsapi_ticket (it signs ``wx.config``), ``ticket/get?type=agent_config`` the
app's (it signs ``wx.agentConfig``); each lives TICKET_TTL seconds on the world's clock, and within its lifetime a
fetch answers the same ticket with the time it has left. Fetches are rationed as the docs say: within an hour at most
400 per corp and 100 per app, then 45009 (接口调用超过限制). The world knows one app per corp (its tokens carry no
app), so both kinds count against one app's 100; the window is the hour before the call (sliding), a refused call
not counted. A ``type`` other than agent_config answers 40058 (the docs name no errcode: the world's rule).

The player's side (the sandbox serves it as /sandbox/jssdk.js): ``verify`` checks a wx.config / wx.agentConfig
signature against the corp's current ticket of that kind for the page's URL, ``set_chat`` / ``current_chat`` are the
chat a staff member has open, which ``getCurExternalContact`` answers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import (
    ChatContext,
    Corp,
    JsTicket,
    WorldError,
    WorldState,
    check_external_userid,
    digest,
)

TICKET_TTL = 7200
HOUR = 3600
CORP_HOURLY_FETCHES = 400
APP_HOURLY_FETCHES = 100
CORP, AGENT = "corp", "agent_config"  # the two kinds: wx.config's and wx.agentConfig's


def get_jsapi_ticket(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    return _issue(world, corp, CORP)


def get_agent_ticket(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("type") != AGENT:
        raise ApiError(40058)
    return _issue(world, corp, AGENT)


APIS = ApiSet(
    {"get_jsapi_ticket": get_jsapi_ticket, "ticket/get": get_agent_ticket},
    from_query=frozenset({"get_jsapi_ticket", "ticket/get"}),
)


def _issue(world: WorldState, corp: Corp, kind: str) -> dict[str, Any]:
    now = world.now()
    corp.ticket_fetches = [t for t in corp.ticket_fetches if t > now - HOUR]
    if len(corp.ticket_fetches) >= min(APP_HOURLY_FETCHES, CORP_HOURLY_FETCHES):
        raise ApiError(45009)
    corp.ticket_fetches.append(now)
    ticket = corp.js_tickets.get(kind)
    if ticket is None or ticket.expires_at <= now:
        value = "sbxjs" + digest(corp.corp_id, kind, world.next_seq())[:48]
        ticket = corp.js_tickets[kind] = JsTicket(value, now + TICKET_TTL)
    return {"ticket": ticket.value, "expires_in": int(ticket.expires_at - now)}


def expire(corp: Corp) -> None:
    """Every ticket of the corp expires now: the next fetch issues new ones, old signatures stop verifying."""
    for ticket in corp.js_tickets.values():
        ticket.expires_at = float("-inf")


def verify(world: WorldState, corp: Corp, kind: str, params: dict[str, str]) -> str:
    """ "" when the signature in ``params`` (timestamp, nonceStr, signature, url) is the one the corp's current
    ``kind`` ticket gives for the page's URL; else the errMsg the JS-SDK reports (``invalid signature``)."""
    ticket = corp.js_tickets.get(kind)
    if ticket is None or ticket.expires_at <= world.now():
        return "invalid signature"  # a ticket never issued, or expired: no signature can match
    url = params.get("url", "").split("#", 1)[0]
    plain = f"jsapi_ticket={ticket.value}&noncestr={params.get('nonceStr', '')}&timestamp={params.get('timestamp', '')}"
    expected = hashlib.sha1(f"{plain}&url={url}".encode()).hexdigest()  # WeCom's algorithm
    return "" if expected == params.get("signature") else "invalid signature"


def set_chat(corp: Corp, userid: str, external_userid: str) -> ChatContext:
    """``userid`` opens the chat with ``external_userid``: they must be each other's contacts (no chat otherwise)."""
    if not userid:
        raise WorldError("userid is required")
    check_external_userid(external_userid)
    follow = corp.follows.get(external_userid, {}).get(userid)
    if follow is None or not follow.friends:
        raise WorldError(f"{userid} has no chat with {external_userid}: they are not contacts")
    corp.current_chat = ChatContext(userid, external_userid)
    return corp.current_chat


class JsSdkControls(WorldState):
    """WeComWorld's controls for the JS-SDK player (the sandbox's /sandbox/jssdk routes)."""

    def expire_tickets(self, corp_id: str) -> None:
        """Expire the corp's JS-SDK tickets, as WeCom does after 7200 s."""
        with self.lock:
            expire(self.corp(corp_id))

    def ticket_fetches(self, corp_id: str) -> int:
        """Ticket fetches the corp made within the last hour (what the hourly limits count)."""
        with self.lock:
            now = self.now()
            return sum(1 for t in self.corp(corp_id).ticket_fetches if t > now - HOUR)

    def verify_js_signature(self, corp_id: str, kind: str, params: dict[str, str]) -> str:
        """ "" if a wx.config (kind "corp") / wx.agentConfig ("agent_config") signature holds, else its errMsg."""
        if kind not in (CORP, AGENT):
            raise WorldError(f"unknown ticket kind {kind!r}")
        with self.lock:
            return verify(self, self.corp(corp_id), kind, params)

    def open_chat(self, corp_id: str, userid: str, external_userid: str) -> None:
        """The staff member ``userid`` opens their chat with ``external_userid`` (getCurExternalContact's answer)."""
        with self.lock:
            set_chat(self.corp(corp_id), userid, external_userid)

    def close_chat(self, corp_id: str) -> None:
        """No chat is open any more: getCurExternalContact fails until one is."""
        with self.lock:
            self.corp(corp_id).current_chat = None

    def current_chat(self, corp_id: str) -> ChatContext | None:
        with self.lock:
            chat = self.corp(corp_id).current_chat
            return None if chat is None else ChatContext(chat.userid, chat.external_userid)
