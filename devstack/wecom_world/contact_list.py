"""Existing contacts read in bulk: ``externalcontact/get_follow_user_list`` (page 92571) and
``externalcontact/batch/get_by_user`` (page 92994), and the control that seeds many pre-existing contacts at once.

What the first sync of a tenant reads (services/contact_sync.py). batch/get_by_user answers one row per (contact,
staff member) relation of the staff in ``userid_list`` (1..100 userids; more answers 40058, as WeCom does), at most
``limit`` rows (1..100, default 50; more answers 40058), ordered by staff member in the list's order, then by
createtime and external_userid. Its cursor is opaque and stable: it names the last row given (not an offset), so a
contact added or deleted between two pages neither repeats nor skips another; a cursor that is not one answers
50100. A relation the staff member deleted (del_external_contact) is gone from the listing; one only the customer
deleted (del_follow_user) is still listed, as externalcontact/get still lists it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.contacts import profile_json
from devstack.wecom_world.state import Corp, Follow, WorldError, WorldState, check_external_userid, digest

MAX_USERIDS = 100  # userid_list (92994)
MAX_LIMIT, DEFAULT_LIMIT = 100, 50  # limit (92994)


def get_follow_user_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    """The staff with the customer-contact permission: the corp's members and anyone holding a contact."""
    users = set(corp.members)
    for relations in corp.follows.values():
        users.update(relations)
    return {"follow_user": sorted(users)}


def batch_get_by_user(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    userids = p.get("userid_list")
    if not userids:
        raise ApiError(41009)
    if not isinstance(userids, list) or len(userids) > MAX_USERIDS or not all(isinstance(u, str) for u in userids):
        raise ApiError(40058)
    try:
        limit = int(p.get("limit") or DEFAULT_LIMIT)
    except (TypeError, ValueError):
        raise ApiError(40058) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(40058)
    order = {u: i for i, u in enumerate(dict.fromkeys(userids))}
    rows = sorted(
        (
            (order[f.userid], f.createtime, f.external_userid, f)
            for relations in corp.follows.values()
            for f in relations.values()
            if f.userid in order and f.active
        ),
        key=lambda r: r[:3],
    )
    after = _position(p.get("cursor"))
    if after is not None:
        rows = [r for r in rows if r[:3] > after]
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "external_contact_list": [
            {"external_contact": profile_json(corp, r[3].external_userid), "follow_info": _follow_info(r[3])}
            for r in page
        ],
        "next_cursor": _cursor(page[-1][:3]) if more else "",
    }


APIS = ApiSet(
    {
        "externalcontact/get_follow_user_list": get_follow_user_list,
        "externalcontact/batch/get_by_user": batch_get_by_user,
    },
    read_only=frozenset({"externalcontact/get_follow_user_list", "externalcontact/batch/get_by_user"}),
    from_query=frozenset({"externalcontact/get_follow_user_list"}),
)


def _follow_info(follow: Follow) -> dict[str, Any]:
    return {
        "userid": follow.userid,
        "remark": "",
        "description": "",
        "createtime": follow.createtime,
        "tag_id": list(follow.tags),
        "remark_corp_name": "",
        "remark_mobiles": list(follow.remark_mobiles),
        "oper_userid": follow.userid,
        "add_way": follow.add_way,
        "state": follow.state,
    }


def _cursor(position: tuple[Any, ...]) -> str:
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(value: Any) -> tuple[int, int, str] | None:
    if not value:
        return None
    try:
        text = str(value)
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        index, createtime, external_userid = raw
        return int(index), int(createtime), str(external_userid)
    except (ValueError, TypeError):
        raise ApiError(50100) from None


# --- controls -------------------------------------------------------------------------------------------------------


class ContactListControls(WorldState):
    """WeComWorld's control for contacts that existed before Siyu was connected."""

    def seed_contacts(
        self,
        corp_id: str,
        userid: str,
        count: int,
        *,
        state: str = "",
        tags: tuple[str, ...] | list[str] = (),
        createtime: int | None = None,
        phones: bool = False,
    ) -> list[str]:
        """``count`` contacts ``userid`` had before Siyu was connected (no callback); see ``seed_contacts``."""
        with self.lock:
            return seed_contacts(
                self, corp_id, userid, count, state=state, tags=tags, createtime=createtime, phones=phones
            )


def seed_contacts(
    world: WorldState,
    corp_id: str,
    userid: str,
    count: int,
    *,
    state: str = "",
    tags: tuple[str, ...] | list[str] = (),
    createtime: int | None = None,
    phones: bool = False,
) -> list[str]:
    """``count`` contacts that staff member ``userid`` already had before Siyu was connected (no callback, no
    welcome code): each with ``state`` and the corp tags ``tags``, added at ``createtime`` (default: now) one
    second apart; with ``phones``, each has a remark mobile. Their external_userids, oldest first."""
    if not userid or count < 0:
        raise WorldError("seed_contacts needs a userid and a count >= 0")
    corp = world.corp(corp_id)
    unknown = [t for t in tags if t not in corp.tags]
    if unknown:
        raise WorldError(f"no such corp tags: {unknown}")
    start = int(world.now()) if createtime is None else createtime
    corp.members.setdefault(userid, userid)
    made = []
    for n in range(count):
        external_userid = "wm" + digest(corp_id, "seeded", world.next_seq())[:30]
        check_external_userid(external_userid)
        mobiles = (f"139{int(digest(external_userid)[:8], 16) % 10**8:08d}",) if phones else ()
        corp.follows.setdefault(external_userid, {})[userid] = Follow(
            userid=userid,
            external_userid=external_userid,
            state=state,
            createtime=start + n,
            remark_mobiles=mobiles,
            tags=list(tags),
        )
        made.append(external_userid)
    return made


MAX_SEED = 10_000  # contacts per control call


def seed_route(world: ContactListControls) -> Any:
    """``POST /sandbox/contacts/seed {corp_id, userid, count, state?, tags?, createtime?, phones?}``: contacts a
    staff member had before Siyu was connected (the demo's and the tests' first contact sync)."""

    def seed(query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        count, tags, createtime = body.get("count"), body.get("tags") or [], body.get("createtime")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_SEED:
            raise WorldError(f"count must be an integer 0..{MAX_SEED}")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise WorldError("tags must be a list of corp tag ids")
        if createtime is not None and (not isinstance(createtime, int) or isinstance(createtime, bool)):
            raise WorldError("createtime must be unix seconds")
        made = world.seed_contacts(
            str(body.get("corp_id") or ""),
            str(body.get("userid") or ""),
            count,
            state=str(body.get("state") or ""),
            tags=tags,
            createtime=createtime,
            phones=bool(body.get("phones")),
        )
        return {"external_userids": made}

    return seed
