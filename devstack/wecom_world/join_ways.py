"""「加入群聊」 join ways (page 92229): add, get, update and delete a corp's group QR configurations, and the join
control: a person joining a group through a way, or directly.

Limits: scene 1 (mini-program) or 2 (QR); chat_id_list 1..5 chats, each a live group of the corp (else 40050);
state ≤ 30 characters, room_base_name ≤ 40 (40058: the docs give no errcode); remark is cut to 30 characters, as
the docs say ("超过30个字符将被截断"); at most 500,000 ways per corp, shared with the contact ways (41045).

Joining through a way puts the person in the first of its groups that is not full. When all are full and
auto_create_room is on, the world creates a group named room_base_name + room_base_id, owned by the owner of the
way's last group, and counts room_base_id up. The docs (92229: "auto_create_room 当群满了后，是否自动新建群";
"room_base_name 和 room_base_id 两个参数配合，用于指定自动新建群的群名 … 自动创建的第一个群，群名为‘销售客服群10’；
自动创建的第二个群，群名为‘销售客服群11’") say the way keeps filling the rooms it created (a second room is named only
once the first is full) but not that the new room enters chat_id_list. So the world keeps the created rooms on the
way apart (``auto_chat_ids``, tried after chat_id_list) and get_join_way answers the chat_id_list it was given;
Siyu learns of the new room from its ``create`` callback and may put it in the list with update_join_way.
"""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.groups import Person, add_member, chat_event, is_full, live_chat, new_chat
from devstack.wecom_world.qr_images import qr_url
from devstack.wecom_world.state import MAX_NAME_CHARS, Corp, GroupChat, JoinWay, WorldError, WorldState, digest

MAX_JOIN_WAY_CHATS = 5
MAX_ROOM_BASE_NAME_CHARS = 40


def add_join_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    if len(corp.ways) + len(corp.join_ways) >= world.max_contact_ways:
        raise ApiError(41045)  # shared with 「联系我」 (92228, 92229)
    fields = _fields(corp, p, None)
    config_id = digest(corp.corp_id, "join_way", world.next_seq())[:32]
    corp.join_ways[config_id] = JoinWay(config_id=config_id, created_at=world.now(), **fields)
    return {"config_id": config_id}


def get_join_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    way = _way(corp, p)
    join_way: dict[str, Any] = {
        "config_id": way.config_id,
        "scene": way.scene,
        "remark": way.remark,
        "auto_create_room": 1 if way.auto_create_room else 0,
        "room_base_name": way.room_base_name,
        "room_base_id": way.room_base_id,
        "chat_id_list": list(way.chat_ids),
        "state": way.state,
    }
    if way.scene == 2:
        join_way["qr_code"] = qr_url(world, way.config_id, join=True)
    return {"join_way": join_way}


def update_join_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    way = _way(corp, p)
    for name, value in _fields(corp, p, way).items():
        setattr(way, name, value)
    return {}


def del_join_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    del corp.join_ways[_way(corp, p).config_id]
    return {}


APIS = ApiSet(
    {
        "externalcontact/groupchat/add_join_way": add_join_way,
        "externalcontact/groupchat/get_join_way": get_join_way,
        "externalcontact/groupchat/update_join_way": update_join_way,
        "externalcontact/groupchat/del_join_way": del_join_way,
    },
    read_only=frozenset({"externalcontact/groupchat/get_join_way"}),
)


def _way(corp: Corp, p: dict[str, Any]) -> JoinWay:
    config_id = str(p.get("config_id") or "")
    if not config_id:
        raise ApiError(41043)
    way = corp.join_ways.get(config_id)
    if way is None:
        raise ApiError(41044)
    return way


def _fields(corp: Corp, p: dict[str, Any], current: JoinWay | None) -> dict[str, Any]:
    """The way's fields from an add (``current`` None: scene and chat_id_list required) or an update (what is
    absent stays as it was), after the documented limits."""

    def given(name: str, default: Any) -> Any:
        return p.get(name, default)

    scene = given("scene", current.scene if current else None)
    if scene is None:
        raise ApiError(41038)
    if scene not in (1, 2):
        raise ApiError(41040)
    chat_ids = given("chat_id_list", current.chat_ids if current else [])
    if not isinstance(chat_ids, list) or not 1 <= len(chat_ids) <= MAX_JOIN_WAY_CHATS:
        raise ApiError(40058)
    chat_ids = [str(c) for c in chat_ids]
    for chat_id in chat_ids:
        live_chat(corp, chat_id)  # 40050 for a chat that is not the corp's
    state = str(given("state", current.state if current else ""))
    room_base_name = str(given("room_base_name", current.room_base_name if current else ""))
    if len(state) > MAX_NAME_CHARS or len(room_base_name) > MAX_ROOM_BASE_NAME_CHARS:
        raise ApiError(40058)
    room_base_id = given("room_base_id", current.room_base_id if current else 0)
    if not isinstance(room_base_id, int) or isinstance(room_base_id, bool) or room_base_id < 0:
        raise ApiError(40058)
    return {
        "scene": int(scene),
        "chat_ids": list(dict.fromkeys(chat_ids)),
        "state": state,
        "remark": str(given("remark", current.remark if current else ""))[:MAX_NAME_CHARS],  # cut, as documented
        "auto_create_room": bool(given("auto_create_room", current.auto_create_room if current else 1)),
        "room_base_name": room_base_name,
        "room_base_id": room_base_id,
    }


# --- the join control -----------------------------------------------------------------------------------------------


def join(
    world: WorldState,
    corp_id: str,
    person: Person,
    *,
    config_id: str = "",
    chat_id: str = "",
    invitor: str = "",
    now: float | None = None,
) -> list[dict[str, Any]]:
    """``person`` joins through the join way ``config_id`` (the group QR: join_scene 3, the way's state) or directly
    into ``chat_id`` (invited by ``invitor``, else the owner). Returns the callbacks, oldest first: a ``create`` when
    the way had to create a room, then the ``add_member``."""
    if bool(config_id) == bool(chat_id):
        raise WorldError("give exactly one of config_id and chat_id")
    corp = world.corp(corp_id)
    at = world.now() if now is None else now
    if chat_id:
        chat = corp.chats.get(chat_id)
        if chat is None or chat.dismissed:
            raise WorldError(f"no group {chat_id!r} in corp {corp_id} (or it was dismissed)")
        return [add_member(world, corp, chat, person, at, via_way=False, invitor=invitor)]
    way = corp.join_ways.get(config_id)
    if way is None:
        raise WorldError(f"no join way {config_id!r} in corp {corp_id}")
    events: list[dict[str, Any]] = []
    room = _room(world, corp, way)
    if room is None:
        room = _create_room(world, corp, way, at)
        events.append(chat_event(corp, room, "create", at))
    events.append(add_member(world, corp, room, person, at, via_way=True, invitor=invitor, state=way.state))
    return events


def _room(world: WorldState, corp: Corp, way: JoinWay) -> GroupChat | None:
    """The first of the way's groups (its list, then the rooms it created) that is live and not full."""
    for chat_id in [*way.chat_ids, *(c for c in way.auto_chat_ids if c not in way.chat_ids)]:
        chat = corp.chats.get(chat_id)
        if chat is not None and not chat.dismissed and not is_full(world, corp, chat):
            return chat
    return None


def _create_room(world: WorldState, corp: Corp, way: JoinWay, at: float) -> GroupChat:
    if not way.auto_create_room:
        raise WorldError(f"every group of join way {way.config_id} is full and auto_create_room is off")
    owner = corp.chats[way.chat_ids[-1]].owner
    room = new_chat(world, corp, owner=owner, name=f"{way.room_base_name}{way.room_base_id}", at=at)
    way.room_base_id += 1
    way.auto_chat_ids.append(room.chat_id)
    return room
