"""发送应用消息: message/send (page 90236), the textcard an app sends to members, as WeCom plays it.

What the world enforces, from the docs: ``agentid`` a positive integer (40056 otherwise); ``touser`` "a|b" of at most
1000 members, the invalid ones answered in ``invaliduser`` (lowercased) and all invalid 81013; msgtype ``textcard``
(others 40008: the world plays only this one) with title, description and url required (40058), title cut to 128
bytes, description to 512, btntxt to 4 characters (WeCom truncates), url at most 2048 bytes with its scheme;
``enable_duplicate_check`` 1 with ``duplicate_check_interval`` (default 1800 s, at most 4 h, else 40058): the same
request JSON within the interval is answered ok and not shown again; per app and member at most 30 messages a
minute and 1000 an hour: the excess is answered ok and dropped (WeCom: 超过部分会被丢弃不下发). ``toparty`` and
``totag`` are not played (the world has no departments or tags of members).

``messages(corp, userid)`` is what arrived, with the duplicates and drops marked: the sandbox's
GET /sandbox/app_messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import AppMessage, Corp, WorldState, digest

MAX_TOUSER = 1000
PER_MINUTE, PER_HOUR = 30, 1000
DEFAULT_INTERVAL, MAX_INTERVAL = 1800, 4 * 3600
TITLE_BYTES, DESCRIPTION_BYTES, URL_BYTES, BTNTXT_CHARS = 128, 512, 2048, 4
USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
DELIVERED, DUPLICATE, DROPPED = "delivered", "duplicate", "dropped"


def send(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    agentid = p.get("agentid")
    if not isinstance(agentid, int) or isinstance(agentid, bool) or agentid <= 0:
        raise ApiError(40056)
    if p.get("msgtype") != "textcard":
        raise ApiError(40008)
    card = p.get("textcard")
    if not isinstance(card, dict) or not all(isinstance(card.get(n), str) and card[n] for n in ("title", "url")):
        raise ApiError(40058)
    if not isinstance(card.get("description"), str) or not card["description"]:
        raise ApiError(40058)
    url = card["url"]
    if not url.startswith(("http://", "https://")) or len(url.encode()) > URL_BYTES:
        raise ApiError(40058)
    check = int(p.get("enable_duplicate_check") or 0) == 1
    interval = int(p.get("duplicate_check_interval") or DEFAULT_INTERVAL)
    if check and not 0 < interval <= MAX_INTERVAL:
        raise ApiError(40058)
    users = [u for u in str(p.get("touser") or "").split("|") if u]
    if len(users) > MAX_TOUSER:
        raise ApiError(40058)
    valid = [u for u in dict.fromkeys(users) if USERID.fullmatch(u)]
    invalid = [u.lower() for u in users if not USERID.fullmatch(u)]
    if not valid:
        raise ApiError(81013)
    now = world.now()
    request = digest(json.dumps(p, sort_keys=True, ensure_ascii=False))
    msgid = "sbxapp" + digest(corp.corp_id, "app_message", world.next_seq())[:24]
    for userid in valid:
        status = _status(corp, agentid, userid, request, now)
        corp.app_messages.append(
            AppMessage(
                msgid=msgid,
                agentid=agentid,
                userid=userid,
                msgtype="textcard",
                title=_cut(card["title"], TITLE_BYTES),
                description=_cut(card["description"], DESCRIPTION_BYTES),
                url=url,
                btntxt=str(card.get("btntxt") or "详情")[:BTNTXT_CHARS],
                sent_at=now,
                status=status,
                digest=request,
                check_until=now + interval if check and status == DELIVERED else 0.0,
            )
        )
    answer: dict[str, Any] = {"msgid": msgid}
    if invalid:
        answer["invaliduser"] = "|".join(invalid)
    return answer


def _status(corp: Corp, agentid: int, userid: str, request: str, now: float) -> str:
    """Whether this member gets the message: a duplicate of a checked one still in its interval, over the
    frequency limit, or delivered."""
    mine = [m for m in corp.app_messages if m.userid == userid and m.agentid == agentid and m.status == DELIVERED]
    if any(m.digest == request and now < m.check_until for m in mine):
        return DUPLICATE
    last_minute = sum(1 for m in mine if now - 60 < m.sent_at <= now)
    last_hour = sum(1 for m in mine if now - 3600 < m.sent_at <= now)
    if last_minute >= PER_MINUTE or last_hour >= PER_HOUR:
        return DROPPED
    return DELIVERED


def _cut(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def messages(corp: Corp, userid: str | None = None) -> list[dict[str, Any]]:
    """The corp's application messages (one member's with ``userid``), oldest first, with their status."""
    rows = [m for m in corp.app_messages if userid is None or m.userid == userid]
    return [{k: v for k, v in asdict(m).items() if k not in ("digest", "check_until")} for m in rows]


APIS = ApiSet(handlers={"message/send": send})
