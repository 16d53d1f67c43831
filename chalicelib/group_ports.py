"""Plain data of WeCom's customer-group APIs (客户群): what ``groupchat/list``, ``groupchat/get`` and the join ways
(``groupchat/*_join_way``) answer, as the WeCom port (ports.WeComPort) returns it.

Kept apart from ports.py so that file does not grow; it refers to these only for type checking.
"""

from __future__ import annotations

from dataclasses import dataclass

STAFF_MEMBER, EXTERNAL_MEMBER = 1, 2  # GroupChatMember.type
# groupchat/get's join_scene (not the callback's JoinScene: 0 invited by a member or link, 3 QR).
JOIN_INVITED, JOIN_LINK, JOIN_QR = 1, 2, 3


@dataclass(frozen=True)
class GroupChatMember:
    """One member of a customer group: ``type`` 1 staff, 2 external contact; ``join_scene`` groupchat/get's enum
    (1 invited directly, 2 via an invite link, 3 scanned the group QR); ``state`` the join way's state, if any."""

    userid: str
    type: int
    join_time: int
    join_scene: int
    invitor: str = ""
    state: str = ""
    unionid: str = ""
    group_nickname: str = ""
    name: str = ""


@dataclass(frozen=True)
class GroupChatDetail:
    """``groupchat/get``: the group, its members and admins, and the member version (callbacks' CurMemVer)."""

    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str
    members: tuple[GroupChatMember, ...]
    admins: tuple[str, ...]
    member_version: str


@dataclass(frozen=True)
class GroupChatPage:
    """One page of ``groupchat/list``: (chat_id, status) rows; ``next_cursor`` "" on the last page."""

    chats: tuple[tuple[str, int], ...]
    next_cursor: str


@dataclass(frozen=True)
class JoinWay:
    """A 「加入群聊」 configuration (``groupchat/get_join_way``): scene 1 mini-program, 2 QR code."""

    config_id: str
    scene: int
    qr_code: str
    chat_ids: tuple[str, ...]
    auto_create_room: bool
    room_base_name: str
    room_base_id: int
    state: str
    remark: str = ""
