"""WeComClient's customer-group calls (客户群): groupchat/list and groupchat/get, and the join ways
(「加入群聊」, groupchat/add_join_way, get_join_way, update_join_way, del_join_way; page 92229).

A mixin so client.py (token cache, retries, errcode mapping) stays one file under its size; every call goes through
the client's ``_api``. Documented limits are checked before a call is spent: chat_id_list 1..5, state ≤ 30 and
remark ≤ 30 characters, room_base_name ≤ 40, scene 1|2, groupchat/list limit 1..1000 and owner_filter ≤ 100.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.group_ports import GroupChatDetail, GroupChatMember, GroupChatPage, JoinWay

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

MAX_JOIN_WAY_CHATS = 5  # chat_id_list (92229)
MAX_ROOM_BASE_NAME_CHARS = 40  # room_base_name (92229)
MAX_JOIN_WAY_STATE_CHARS = 30  # state (92229)
MAX_JOIN_WAY_REMARK_CHARS = 30  # remark (92229)
MAX_LIST_LIMIT = 1000  # groupchat/list limit (92120)
MAX_OWNER_FILTER = 100  # groupchat/list owner_filter.userid_list (92120)
STATUS_FILTERS = (0, 1, 2, 3)  # all; 离职待继承; 离职继承中; 离职继承完成 (92120)


class GroupChatsMixin(ApiMixin):
    """The group half of WeComClient (see the module docstring)."""

    def list_group_chats(
        self,
        creds: WeComCredentials,
        *,
        cursor: str = "",
        limit: int = MAX_LIST_LIMIT,
        status_filter: int = 0,
        owners: list[str] | None = None,
    ) -> GroupChatPage:
        """One page of the corp's customer groups (chat_id, status), optionally only those of ``owners``."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise errors.InvalidError(f"groupchat/list limit must be 1..{MAX_LIST_LIMIT}")
        if status_filter not in STATUS_FILTERS:
            raise errors.InvalidError("status_filter must be 0, 1, 2 or 3")
        if owners is not None and not 1 <= len(owners) <= MAX_OWNER_FILTER:
            raise errors.InvalidError(f"owners takes 1..{MAX_OWNER_FILTER} userids")
        body: dict[str, Any] = {"status_filter": status_filter, "limit": limit}
        if cursor:
            body["cursor"] = cursor
        if owners is not None:
            body["owner_filter"] = {"userid_list": list(owners)}
        data = self._api(creds, "externalcontact/groupchat/list", body)
        rows = tuple(
            (str(row.get("chat_id", "")), int(row.get("status") or 0)) for row in _rows(data, "group_chat_list")
        )
        return GroupChatPage(chats=rows, next_cursor=str(data.get("next_cursor") or ""))

    def get_group_chat(self, creds: WeComCredentials, chat_id: str) -> GroupChatDetail:
        """The group with its members (names included: need_name=1), admins and member_version."""
        _require(chat_id, "chat_id")
        data = self._api(creds, "externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})
        chat = data.get("group_chat")
        if not isinstance(chat, dict):
            raise errors.WeComTransportError("WeCom externalcontact/groupchat/get answered without group_chat")
        return GroupChatDetail(
            chat_id=str(chat.get("chat_id") or chat_id),
            name=str(chat.get("name", "")),
            owner=str(chat.get("owner", "")),
            create_time=int(chat.get("create_time") or 0),
            notice=str(chat.get("notice", "")),
            members=tuple(_member(m) for m in _rows(chat, "member_list")),
            admins=tuple(str(a.get("userid", "")) for a in _rows(chat, "admin_list")),
            member_version=str(chat.get("member_version", "")),
        )

    def add_join_way(
        self,
        creds: WeComCredentials,
        *,
        chat_ids: list[str],
        state: str,
        room_base_name: str,
        room_base_id: int,
        auto_create_room: bool = True,
        scene: int = 2,
        remark: str = "",
    ) -> str:
        """A 「加入群聊」 configuration for ``chat_ids``; returns its config_id (get_join_way gives the qr_code)."""
        body = _join_way_body(chat_ids, state, room_base_name, room_base_id, auto_create_room, scene, remark)
        data = self._api(creds, "externalcontact/groupchat/add_join_way", body)
        config_id = data.get("config_id")
        if not isinstance(config_id, str) or not config_id:
            raise errors.WeComTransportError("WeCom externalcontact/groupchat/add_join_way answered without config_id")
        return config_id

    def get_join_way(self, creds: WeComCredentials, config_id: str) -> JoinWay:
        _require(config_id, "config_id")
        data = self._api(creds, "externalcontact/groupchat/get_join_way", {"config_id": config_id})
        way = data.get("join_way")
        if not isinstance(way, dict):
            raise errors.WeComTransportError("WeCom externalcontact/groupchat/get_join_way answered without join_way")
        return JoinWay(
            config_id=str(way.get("config_id") or config_id),
            scene=int(way.get("scene") or 0),
            qr_code=str(way.get("qr_code", "")),
            chat_ids=tuple(str(c) for c in way.get("chat_id_list") or []),
            auto_create_room=bool(way.get("auto_create_room")),
            room_base_name=str(way.get("room_base_name", "")),
            room_base_id=int(way.get("room_base_id") or 0),
            state=str(way.get("state", "")),
            remark=str(way.get("remark", "")),
        )

    def update_join_way(
        self,
        creds: WeComCredentials,
        *,
        config_id: str,
        chat_ids: list[str],
        state: str,
        room_base_name: str,
        room_base_id: int,
        auto_create_room: bool = True,
        scene: int = 2,
        remark: str = "",
    ) -> None:
        """Replace the configuration (WeCom's update takes the whole of it): the rotation of a group live code."""
        _require(config_id, "config_id")
        body = _join_way_body(chat_ids, state, room_base_name, room_base_id, auto_create_room, scene, remark)
        self._api(creds, "externalcontact/groupchat/update_join_way", {"config_id": config_id, **body})

    def del_join_way(self, creds: WeComCredentials, config_id: str) -> None:
        _require(config_id, "config_id")
        self._api(creds, "externalcontact/groupchat/del_join_way", {"config_id": config_id})


def _join_way_body(
    chat_ids: list[str],
    state: str,
    room_base_name: str,
    room_base_id: int,
    auto_create_room: bool,
    scene: int,
    remark: str,
) -> dict[str, Any]:
    """The join way's fields after the documented limits (92229)."""
    if not 1 <= len(chat_ids) <= MAX_JOIN_WAY_CHATS or not all(chat_ids):
        raise errors.InvalidError(f"a join way takes 1..{MAX_JOIN_WAY_CHATS} chat ids")
    if len(set(chat_ids)) != len(chat_ids):
        raise errors.InvalidError("a join way's chat ids must differ")
    if scene not in (1, 2):
        raise errors.InvalidError("scene must be 1 (mini-program) or 2 (QR code)")
    if len(state) > MAX_JOIN_WAY_STATE_CHARS:
        raise errors.InvalidError(f"state is longer than {MAX_JOIN_WAY_STATE_CHARS} characters")
    if len(remark) > MAX_JOIN_WAY_REMARK_CHARS:
        raise errors.InvalidError(f"remark is longer than {MAX_JOIN_WAY_REMARK_CHARS} characters")
    if len(room_base_name) > MAX_ROOM_BASE_NAME_CHARS:
        raise errors.InvalidError(f"room_base_name is longer than {MAX_ROOM_BASE_NAME_CHARS} characters")
    if room_base_id < 0:
        raise errors.InvalidError("room_base_id must not be negative")
    return {
        "scene": scene,
        "remark": remark,
        "auto_create_room": 1 if auto_create_room else 0,
        "room_base_name": room_base_name,
        "room_base_id": room_base_id,
        "chat_id_list": list(chat_ids),
        "state": state,
    }


def _member(item: dict[str, Any]) -> GroupChatMember:
    invitor = item.get("invitor")
    return GroupChatMember(
        userid=str(item.get("userid", "")),
        type=int(item.get("type") or 0),
        join_time=int(item.get("join_time") or 0),
        join_scene=int(item.get("join_scene") or 0),
        invitor=str(invitor.get("userid", "")) if isinstance(invitor, dict) else "",
        state=str(item.get("state", "")),
        unionid=str(item.get("unionid", "")),
        group_nickname=str(item.get("group_nickname", "")),
        name=str(item.get("name", "")),
    )


def _rows(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [row for row in data.get(name) or [] if isinstance(row, dict)]


def _require(value: str, name: str) -> None:
    if not value:
        raise errors.InvalidError(f"{name} is required")
