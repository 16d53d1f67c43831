"""External contacts and their follow users (92114), and the relation changes WeCom reports by callback.

The API is externalcontact/get; the controls (register_contact, scan, event) play the customer's side and run
under the world's lock (WeComWorld wraps them).
"""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet, cursor
from devstack.wecom_world.state import (
    EXTERNAL_USERID,
    Corp,
    Follow,
    Profile,
    WelcomeCode,
    WorldError,
    WorldState,
    check_external_userid,
    digest,
    record,
)

_CONTACT_CHANGES_WITH_CODE = frozenset({"add_external_contact", "add_half_external_contact"})


def get_external_contact(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    external_userid = str(p.get("external_userid") or "")
    if not external_userid:
        raise ApiError(41035)
    if EXTERNAL_USERID.fullmatch(external_userid) is None:
        raise ApiError(40096)
    follows = [f for f in corp.follows.get(external_userid, {}).values() if f.active]
    if not follows:
        raise ApiError(84061)
    start = cursor(p.get("cursor"))
    page = follows[start : start + world.follow_page_size]
    end = start + len(page)
    return {
        "external_contact": profile_json(corp, external_userid),
        "follow_user": [_follow_json(corp, f) for f in page],
        "next_cursor": str(end) if end < len(follows) else "",
    }


APIS = ApiSet(
    {"externalcontact/get": get_external_contact},
    read_only=frozenset({"externalcontact/get"}),
    from_query=frozenset({"externalcontact/get"}),
)


def profile_json(corp: Corp, external_userid: str) -> dict[str, Any]:
    hashed = digest(external_userid)
    profile = corp.profiles.get(external_userid, Profile())
    contact: dict[str, Any] = {
        "external_userid": external_userid,
        "name": profile.name if profile.name is not None else f"家长{int(hashed[:8], 16) % 10000:04d}",
        "type": 1,
        "avatar": profile.avatar if profile.avatar is not None else f"http://sandbox/avatar/{external_userid}.png",
        "gender": profile.gender if profile.gender is not None else int(hashed[8:10], 16) % 3,
    }
    if corp.unionid:
        contact["unionid"] = profile.unionid if profile.unionid is not None else "o" + hashed[10:37]
    return contact


def _follow_json(corp: Corp, follow: Follow) -> dict[str, Any]:
    tags = []
    for tag_id in follow.tags:
        tag = corp.tags[tag_id]
        group = corp.groups[tag.group_id]
        tags.append({"group_name": group.name, "tag_name": tag.name, "tag_id": tag_id, "type": 1})
    return {
        "userid": follow.userid,
        "remark": "",
        "description": "",
        "createtime": follow.createtime,
        "tags": tags,
        "remark_mobiles": list(follow.remark_mobiles),
        "add_way": follow.add_way,
        "state": follow.state,
    }


# --- controls (the customer's side) ---------------------------------------------------------------------------------


def register_contact(
    world: WorldState,
    corp_id: str,
    external_userid: str,
    *,
    name: str | None = None,
    unionid: str | None = None,
    gender: int | None = None,
    avatar: str | None = None,
    remark_mobiles: tuple[str, ...] | list[str] = (),
) -> None:
    """Give an external contact an explicit profile instead of the synthetic one."""
    check_external_userid(external_userid)
    profile = world.corp(corp_id).profiles.setdefault(external_userid, Profile())
    if name is not None:
        profile.name = name
    if unionid is not None:
        profile.unionid = unionid
    if gender is not None:
        profile.gender = gender
    if avatar is not None:
        profile.avatar = avatar
    if remark_mobiles:
        profile.remark_mobiles = tuple(remark_mobiles)


def scan(
    world: WorldState,
    corp_id: str,
    state: str,
    *,
    external_userid: str | None = None,
    userid: str | None = None,
    name: str | None = None,
    unionid: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A customer scans the contact way with ``state`` (see WeComWorld.scan)."""
    corp = world.corp(corp_id)
    if userid is None:
        way = next((w for w in corp.ways.values() if w.state == state), None)
        if way is None:
            raise WorldError(f"no contact way with state {state!r} in corp {corp_id}")
        userid = way.users[way.next_user % len(way.users)]
        way.next_user += 1
    if external_userid is None:
        external_userid = "wm" + digest(corp_id, "external", world.next_seq())[:30]
    if name is not None or unionid is not None:
        register_contact(world, corp_id, external_userid, name=name, unionid=unionid)
    return event(
        world,
        corp_id,
        "add_external_contact",
        userid=userid,
        external_userid=external_userid,
        now=now,
        State=state,
    )


def event(
    world: WorldState,
    /,
    corp_id: str,
    change_type: str,
    *,
    userid: str = "",
    external_userid: str = "",
    event: str = "change_external_contact",
    now: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Apply a change WeCom reports by callback and return the event fields (see WeComWorld.event)."""
    corp = world.corp(corp_id)
    at = world.now() if now is None else now
    fields: dict[str, Any] = {
        "ToUserName": corp_id,
        "FromUserName": "sys",
        "CreateTime": int(at),
        "MsgType": "event",
        "Event": event,
        "ChangeType": change_type,
    }
    if userid:
        fields["UserID"] = userid
    if external_userid:
        check_external_userid(external_userid)
        fields["ExternalUserID"] = external_userid
    if event == "change_external_contact":
        extra = _apply_contact_change(world, corp, change_type, userid, external_userid, at, extra)
    fields.update(extra)
    return fields


def _apply_contact_change(
    world: WorldState,
    corp: Corp,
    change_type: str,
    userid: str,
    external_userid: str,
    at: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    relations = corp.follows.get(external_userid, {})
    existing = relations.get(userid)
    if change_type in _CONTACT_CHANGES_WITH_CODE:
        if not userid or not external_userid:
            raise WorldError(f"{change_type} needs userid and external_userid")
        state = str(extra.get("State", ""))
        if not state:
            extra = {k: v for k, v in extra.items() if k != "State"}
        profile = corp.profiles.get(external_userid, Profile())
        if existing is None or not existing.friends:
            record(corp, "add", at, userid, external_userid)
        corp.follows.setdefault(external_userid, {})[userid] = Follow(
            userid=userid,
            external_userid=external_userid,
            state=state,
            createtime=int(at),
            remark_mobiles=profile.remark_mobiles,
        )
        if existing is None and "WelcomeCode" not in extra:
            code = "WC" + digest(corp.corp_id, "welcome", world.next_seq())[:30]
            corp.welcome_codes[code] = WelcomeCode(userid, external_userid, at)
            extra = {**extra, "WelcomeCode": code}
    elif change_type == "del_external_contact" and existing is not None:
        existing.active = False
    elif change_type == "del_follow_user" and existing is not None:
        if existing.friends:
            record(corp, "negative", at, userid, external_userid)
        existing.customer_deleted = True
    elif change_type == "transfer_fail" and "FailReason" not in extra:
        extra = {**extra, "FailReason": "customer_refused"}
    return extra
