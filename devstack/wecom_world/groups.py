"""客户群 (customer groups): groupchat/list and groupchat/get (pages 92120, 92122), and the controls that play what
happens in a group: seeding one, members joining (directly or through a join way, join_ways.py) and leaving, and the
owner's changes (create, dismiss, change_owner, change_name, change_notice).

Each control applies the change and returns the ``change_external_chat`` callbacks WeCom sends for it (page 92130),
oldest first: ChangeType create / dismiss / update, with UpdateDetail add_member or del_member (JoinScene 0 invited
by a member or link, 3 the group QR; QuitScene 0 left, 1 removed; MemChangeCnt, MemChangeList, LastMemVer,
CurMemVer) or change_owner / change_name / change_notice. ``member_version`` changes on every membership change, so
LastMemVer/CurMemVer of consecutive callbacks chain, and CurMemVer is what groupchat/get answers afterwards.

A group is full at the corp's member limit (``Corp.chat_member_limit``, else the world's ``max_chat_members``,
500). A dismissed group stays in the state (a join way may still name it) but is gone for groupchat/list and
groupchat/get (errcode 40050, chatid不存在, global errcodes 90313).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.contacts import profile_json
from devstack.wecom_world.state import (
    EXTERNAL_USERID,
    ChatMember,
    Corp,
    GroupChat,
    WorldError,
    WorldState,
    check_external_userid,
    digest,
    record,
)

MAX_CHAT_MEMBERS = 500
LIST_LIMIT_MAX = 1000  # groupchat/list limit, required (92120)
MAX_OWNER_FILTER = 100  # owner_filter.userid_list (92120)
STAFF, EXTERNAL = 1, 2  # member type
JOIN_INVITED, JOIN_LINK, JOIN_QR = 1, 2, 3  # groupchat/get join_scene
CALLBACK_JOIN_INVITED, CALLBACK_JOIN_QR = 0, 3  # the callback's JoinScene
QUIT_LEFT, QUIT_REMOVED = 0, 1  # the callback's QuitScene
NO_SUCH_CHAT = 40050  # chatid不存在 (90313)
OWNER_CHANGES = ("change_owner", "change_name", "change_notice")
CHANGES = ("create", "dismiss", *OWNER_CHANGES)


# --- the APIs -------------------------------------------------------------------------------------------------------


def groupchat_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    status_filter = p.get("status_filter", 0)
    if status_filter not in (0, 1, 2, 3):
        raise ApiError(40058)
    owners = (p.get("owner_filter") or {}).get("userid_list")
    if owners is not None and (not isinstance(owners, list) or len(owners) > MAX_OWNER_FILTER):
        raise ApiError(40058)
    limit = p.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIST_LIMIT_MAX:
        raise ApiError(40058)  # required, 1..1000 (92120); the docs name no errcode
    after = _cursor(p.get("cursor"))
    rows = [
        chat
        for chat in sorted(corp.chats.values(), key=lambda c: c.order)
        if not chat.dismissed
        and chat.order > after
        and (status_filter == 0 or chat.status == status_filter)
        and (not owners or chat.owner in owners)
    ]
    page = rows[:limit]
    next_cursor = str(page[-1].order) if len(rows) > limit else ""
    return {"group_chat_list": [{"chat_id": c.chat_id, "status": c.status} for c in page], "next_cursor": next_cursor}


def groupchat_get(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    chat = live_chat(corp, str(p.get("chat_id") or ""))
    need_name = p.get("need_name") in (1, "1", True)
    members = []
    for m in chat.members:
        row: dict[str, Any] = {
            "userid": m.userid,
            "type": m.type,
            "join_time": m.join_time,
            "join_scene": m.join_scene,
            "group_nickname": "",
        }
        if m.invitor:
            row["invitor"] = {"userid": m.invitor}
        if m.state:
            row["state"] = m.state
        profile = profile_json(corp, m.userid) if m.type == EXTERNAL else {}
        if need_name:
            row["name"] = profile.get("name", m.userid)
        if profile.get("unionid"):
            row["unionid"] = profile["unionid"]
        members.append(row)
    return {
        "group_chat": {
            "chat_id": chat.chat_id,
            "name": chat.name,
            "owner": chat.owner,
            "create_time": chat.create_time,
            "notice": chat.notice,
            "member_list": members,
            "admin_list": [{"userid": a} for a in chat.admins],
            "member_version": chat.member_version,
        }
    }


APIS = ApiSet(
    {"externalcontact/groupchat/list": groupchat_list, "externalcontact/groupchat/get": groupchat_get},
    read_only=frozenset({"externalcontact/groupchat/list", "externalcontact/groupchat/get"}),
)


# --- the state's rules ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who joins or leaves: an external contact (wm…/wo…) or a staff member."""

    userid: str
    type: int

    @classmethod
    def of(cls, *, external_userid: str = "", userid: str = "") -> Person:
        if bool(external_userid) == bool(userid):
            raise WorldError("give exactly one of external_userid and userid")
        if external_userid:
            check_external_userid(external_userid)
            return cls(external_userid, EXTERNAL)
        return cls(userid, STAFF)

    @classmethod
    def guess(cls, member_id: str) -> Person:
        """An id's member type from its form: external ids start wm/wo."""
        return cls(member_id, EXTERNAL if EXTERNAL_USERID.fullmatch(member_id) else STAFF)


def live_chat(corp: Corp, chat_id: str) -> GroupChat:
    """The group, or ApiError 40050 for an unknown or dismissed one (40058 without a chat_id)."""
    if not chat_id:
        raise ApiError(40058)
    chat = corp.chats.get(chat_id)
    if chat is None or chat.dismissed:
        raise ApiError(NO_SUCH_CHAT)
    return chat


def member_limit(world: WorldState, corp: Corp) -> int:
    return corp.chat_member_limit or world.max_chat_members


def is_full(world: WorldState, corp: Corp, chat: GroupChat) -> bool:
    return len(chat.members) >= member_limit(world, corp)


def new_chat(
    world: WorldState,
    corp: Corp,
    *,
    owner: str,
    name: str,
    at: float,
    notice: str = "",
    admins: Iterable[str] = (),
    members: Iterable[Person] = (),
) -> GroupChat:
    """A new group: its owner is its first member (a staff member, invited by nobody)."""
    if not owner or EXTERNAL_USERID.fullmatch(owner):
        raise WorldError("a group's owner is a staff userid")
    seq = world.next_seq()
    chat = GroupChat(
        chat_id="wr" + digest(corp.corp_id, "chat", seq)[:30],
        name=name,
        owner=owner,
        create_time=int(at),
        order=seq,
        member_version=_version(world, corp, "new"),
        notice=notice,
        admins=list(dict.fromkeys(admins)),
        members=[ChatMember(owner, STAFF, int(at), JOIN_INVITED)],
    )
    for person in members:
        if person.userid != owner and _member(chat, person.userid) is None:
            chat.members.append(ChatMember(person.userid, person.type, int(at), JOIN_INVITED, invitor=owner))
    if len(chat.members) > member_limit(world, corp):
        raise WorldError(f"a group takes at most {member_limit(world, corp)} members")
    corp.chats[chat.chat_id] = chat
    record(corp, "chat_create", at, owner, chat.chat_id)
    record(corp, "join", at, owner, chat.chat_id, *(m.userid for m in chat.members))
    return chat


def chat_event(corp: Corp, chat: GroupChat, change_type: str, at: float, **extra: Any) -> dict[str, Any]:
    """The ``change_external_chat`` callback fields, in the order of the doc's sample (92130)."""
    fields: dict[str, Any] = {
        "ToUserName": corp.corp_id,
        "FromUserName": "sys",
        "CreateTime": int(at),
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChatId": chat.chat_id,
        "ChangeType": change_type,
    }
    fields.update(extra)
    return fields


def add_member(
    world: WorldState,
    corp: Corp,
    chat: GroupChat,
    person: Person,
    at: float,
    *,
    via_way: bool,
    invitor: str = "",
    state: str = "",
) -> dict[str, Any]:
    """``person`` joins ``chat`` (through a join way's QR, or invited directly); the add_member callback."""
    if _member(chat, person.userid) is not None:
        raise WorldError(f"{person.userid} is already a member of {chat.chat_id}")
    if is_full(world, corp, chat):
        raise WorldError(f"group {chat.chat_id} is full ({member_limit(world, corp)} members)")
    if not via_way and not invitor:
        invitor = chat.owner
    scene = JOIN_QR if via_way else JOIN_INVITED
    chat.members.append(ChatMember(person.userid, person.type, int(at), scene, invitor=invitor, state=state))
    record(corp, "join", at, chat.owner, chat.chat_id, person.userid)
    last, chat.member_version = chat.member_version, _version(world, corp, chat.chat_id)
    return chat_event(
        corp,
        chat,
        "update",
        at,
        UpdateDetail="add_member",
        JoinScene=CALLBACK_JOIN_QR if via_way else CALLBACK_JOIN_INVITED,
        MemChangeCnt=1,
        MemChangeList=[person.userid],
        LastMemVer=last,
        CurMemVer=chat.member_version,
    )


# --- controls (what members and owners do; WeComWorld wraps them under its lock) -------------------------------------


def seed_group(
    world: WorldState,
    corp_id: str,
    *,
    owner: str,
    name: str,
    members: Iterable[str] = (),
    notice: str = "",
    admins: Iterable[str] = (),
    now: float | None = None,
) -> dict[str, Any]:
    """A group that existed before Siyu was connected: no callback. Returns describe()'s view of it."""
    corp = world.corp(corp_id)
    people = [Person.guess(m) for m in members]
    for p in people:
        if p.type == EXTERNAL:
            check_external_userid(p.userid)
    at = world.now() if now is None else now
    chat = new_chat(world, corp, owner=owner, name=name, at=at, notice=notice, admins=admins, members=people)
    return describe(chat)


def leave(
    world: WorldState,
    corp_id: str,
    chat_id: str,
    person: Person,
    *,
    removed: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    """``person`` leaves (QuitScene 0) or is removed by the owner or an admin (1); the del_member callback."""
    corp = world.corp(corp_id)
    chat = _control_chat(corp, chat_id)
    member = _member(chat, person.userid)
    if member is None:
        raise WorldError(f"{person.userid} is not a member of {chat_id}")
    if person.userid == chat.owner:
        raise WorldError("the owner cannot leave the group; change_owner or dismiss it")
    at = world.now() if now is None else now
    chat.members.remove(member)
    record(corp, "leave", at, chat.owner, chat_id, person.userid)
    if person.userid in chat.admins:
        chat.admins.remove(person.userid)
    last, chat.member_version = chat.member_version, _version(world, corp, chat.chat_id)
    return chat_event(
        corp,
        chat,
        "update",
        at,
        UpdateDetail="del_member",
        QuitScene=QUIT_REMOVED if removed else QUIT_LEFT,
        MemChangeCnt=1,
        MemChangeList=[person.userid],
        LastMemVer=last,
        CurMemVer=chat.member_version,
    )


def change(
    world: WorldState,
    corp_id: str,
    change_type: str,
    *,
    chat_id: str = "",
    owner: str = "",
    name: str | None = None,
    notice: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The owner's changes: ``create`` (a new group of ``owner`` named ``name``), ``dismiss``, ``change_owner`` (to
    ``owner``, a staff member of the group), ``change_name``, ``change_notice``; the callback."""
    if change_type not in CHANGES:
        raise WorldError(f"change must be one of {', '.join(CHANGES)}")
    corp = world.corp(corp_id)
    at = world.now() if now is None else now
    if change_type == "create":
        if name is None:
            raise WorldError("create needs a name")
        return chat_event(corp, new_chat(world, corp, owner=owner, name=name, at=at), "create", at)
    chat = _control_chat(corp, chat_id)
    if change_type == "dismiss":
        chat.dismissed = True
        record(corp, "chat_dismiss", at, chat.owner, chat.chat_id)
        return chat_event(corp, chat, "dismiss", at)
    if change_type == "change_owner":
        member = _member(chat, owner)
        if member is None or member.type != STAFF or owner == chat.owner:
            raise WorldError("change_owner needs the userid of another staff member of the group as owner")
        chat.owner = owner
    elif change_type == "change_name":
        if not name:
            raise WorldError("change_name needs a name")
        chat.name = name
    else:
        if notice is None:
            raise WorldError("change_notice needs a notice")
        chat.notice = notice
    return chat_event(corp, chat, "update", at, UpdateDetail=change_type)


def describe(chat: GroupChat) -> dict[str, Any]:
    """A group as the sandbox shows it (GET /sandbox/groups)."""
    return {
        "chat_id": chat.chat_id,
        "name": chat.name,
        "owner": chat.owner,
        "notice": chat.notice,
        "create_time": chat.create_time,
        "admins": list(chat.admins),
        "member_version": chat.member_version,
        "dismissed": chat.dismissed,
        "member_count": len(chat.members),
        "members": [
            {
                "userid": m.userid,
                "type": m.type,
                "join_time": m.join_time,
                "join_scene": m.join_scene,
                "invitor": m.invitor,
                "state": m.state,
            }
            for m in chat.members
        ],
    }


def _control_chat(corp: Corp, chat_id: str) -> GroupChat:
    chat = corp.chats.get(chat_id)
    if chat is None or chat.dismissed:
        raise WorldError(f"no group {chat_id!r} in corp {corp.corp_id} (or it was dismissed)")
    return chat


def _member(chat: GroupChat, userid: str) -> ChatMember | None:
    return next((m for m in chat.members if m.userid == userid), None)


def _version(world: WorldState, corp: Corp, chat_id: str) -> str:
    return digest(corp.corp_id, chat_id, "member_version", world.next_seq())[:32]


def _cursor(value: Any) -> int:
    """groupchat/list's cursor: the list position of the last group returned; anything else answers 50100."""
    if not value:
        return 0
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(50100) from None
