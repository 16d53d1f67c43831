"""WeComClient's application messages to staff (发送应用消息, message/send, page 90236): a textcard to one member.

A mixin like groups.py: the call goes through the client's ``_api`` (token, retries, errcodes). The documented
limits are checked before a call is spent: title ≤ 128 bytes, description ≤ 512 bytes, url ≤ 2048 bytes with its
http(s) scheme, btntxt ≤ 4 characters, duplicate_check_interval ≤ 4 hours. ``enable_duplicate_check`` is always on:
a retry of the same request (the same JSON) within the interval reaches the member once, which is what makes a
crash between WeCom's answer and our "sent" mark harmless. All recipients invalid is errcode 81013 (raised); some
invalid is a success with ``invaliduser`` (WeCom lowercases it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.domain.alerts import (
    BTNTXT_MAX_CHARS,
    DESCRIPTION_MAX_BYTES,
    DUPLICATE_CHECK_MAX_SECONDS,
    TITLE_MAX_BYTES,
    URL_MAX_BYTES,
    Card,
)
from chalicelib.ports.wecom import AppMessageResult

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

MAX_TOUSER = 1000  # touser: at most 1000 members, "|"-separated


def check_card(card: Card) -> None:
    """InvalidError for a card WeCom would truncate or refuse (we never let WeCom cut our text)."""
    if not card.title or len(card.title.encode()) > TITLE_MAX_BYTES:
        raise errors.InvalidError(f"textcard title must be 1..{TITLE_MAX_BYTES} bytes")
    if not card.description or len(card.description.encode()) > DESCRIPTION_MAX_BYTES:
        raise errors.InvalidError(f"textcard description must be 1..{DESCRIPTION_MAX_BYTES} bytes")
    if not card.url.startswith(("http://", "https://")) or len(card.url.encode()) > URL_MAX_BYTES:
        raise errors.InvalidError(f"textcard url must be an http(s) URL of at most {URL_MAX_BYTES} bytes")
    if len(card.btntxt) > BTNTXT_MAX_CHARS:
        raise errors.InvalidError(f"textcard btntxt must be at most {BTNTXT_MAX_CHARS} characters")


class AppMessagesMixin(ApiMixin):
    """The application-message half of WeComClient (see the module docstring)."""

    def send_app_message(
        self,
        creds: WeComCredentials,
        *,
        agent_id: int,
        touser: str,
        card: Card,
        duplicate_check_interval: int = 1800,
    ) -> AppMessageResult:
        users = [u for u in touser.split("|") if u]
        if not users or len(users) > MAX_TOUSER:
            raise errors.InvalidError(f"touser must name 1..{MAX_TOUSER} members")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool) or agent_id <= 0:
            raise errors.InvalidError("agent_id must be the self-built app's positive AgentId")
        if not 0 < duplicate_check_interval <= DUPLICATE_CHECK_MAX_SECONDS:
            raise errors.InvalidError(f"duplicate_check_interval must be 1..{DUPLICATE_CHECK_MAX_SECONDS} seconds")
        check_card(card)
        body: dict[str, Any] = {
            "touser": "|".join(users),
            "msgtype": "textcard",
            "agentid": agent_id,
            "textcard": {
                "title": card.title,
                "description": card.description,
                "url": card.url,
                "btntxt": card.btntxt,
            },
            "enable_duplicate_check": 1,
            "duplicate_check_interval": duplicate_check_interval,
        }
        data = self._api(creds, "message/send", body)
        invalid = tuple(u for u in str(data.get("invaliduser") or "").split("|") if u)
        return AppMessageResult(msgid=str(data.get("msgid") or ""), invalid_users=invalid)
