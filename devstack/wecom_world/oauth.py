"""Staff web sign-in (OAuth, 网页授权登录): the codes ``oauth2/authorize`` issues and ``auth/getuserinfo`` redeems.

As WeCom documents it (91023, 91335): a code is valid for 5 minutes and for one use; an unknown, used or expired
code answers 40029 (invalid code). A corp member's code answers ``userid``; the sandbox issues codes to members only
(the corp's members, its contact ways' staff and its customers' owners), as the in-app browser of a signed-in member
would. The authorize page itself is devstack/sandbox_oauth.py.
"""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import Corp, OAuthCode, WorldError, WorldState, digest

CODE_TTL = 300  # seconds


def members(corp: Corp) -> dict[str, str]:
    """Who can sign in: the registered members, and every userid the corp's contact ways and relations name."""
    found = dict(corp.members)
    for way in corp.ways.values():
        for userid in way.users:
            found.setdefault(userid, userid)
    for relations in corp.follows.values():
        for userid in relations:
            found.setdefault(userid, userid)
    return dict(sorted(found.items()))


def issue_code(world: WorldState, corp_id: str, userid: str) -> str:
    """A new sign-in code for ``userid`` (a member of the corp), as ``oauth2/authorize`` redirects with it."""
    with world.lock:
        corp = world.corp(corp_id)
        if userid not in members(corp):
            raise WorldError(f"{userid!r} is not a member of corp {corp_id}")
        code = digest(corp_id, "oauth", userid, world.next_seq())[:32]
        corp.oauth_codes[code] = OAuthCode(userid, world.now())
        # Keep the table small: codes past their life can never be redeemed.
        for old in [c for c, o in corp.oauth_codes.items() if world.now() - o.issued_at > CODE_TTL]:
            del corp.oauth_codes[old]
        return code


def _getuserinfo(world: WorldState, corp: Corp, payload: dict[str, Any]) -> dict[str, Any]:
    code = str(payload.get("code") or "")
    if not code:
        raise ApiError(41008)
    issued = corp.oauth_codes.get(code)
    if issued is None or issued.used or world.now() - issued.issued_at > CODE_TTL:
        raise ApiError(40029)
    issued.used = True
    return {"userid": issued.userid, "user_ticket": ""}


APIS = ApiSet({"auth/getuserinfo": _getuserinfo}, from_query=frozenset({"auth/getuserinfo"}))
