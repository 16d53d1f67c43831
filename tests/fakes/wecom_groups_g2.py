"""WeCom's customer groups as a small in-memory truth, for the group tests the WeCom world cannot play: a crash that
is not WeCom's halfway through a sync (``crash_after_gets``), a WeCom refusing every read (``unavailable``), changes
of several members in one callback (the property test's histories). Everything else plays WeCom with the world
(devstack/wecom_world: tests/unit/groups_g2.py ``world_groups=True``, the functional tests' sandbox).

``FakeGroupChats`` keeps each group as ``groupchat/get`` would answer it, makes each change WeCom's way (a new
opaque member version per membership change) and returns the ``change_external_chat`` fields WeCom would send for
it. ``list_group_chats`` / ``get_group_chat`` answer with objects shaped as chalicelib/group_ports.py's DTOs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.errors import UpstreamError, WeComInvalidArgumentError
from chalicelib.ports import WeComCredentials


@dataclass(frozen=True)
class FakeChatMember:
    userid: str
    type: int = 2
    join_time: int = 0
    join_scene: int = 3
    invitor: str = ""
    state: str = ""
    unionid: str = ""
    group_nickname: str = ""
    name: str = ""


@dataclass(frozen=True)
class FakeChatDetail:
    chat_id: str
    name: str = ""
    owner: str = ""
    create_time: int = 0
    notice: str = ""
    members: tuple[FakeChatMember, ...] = ()
    admins: tuple[str, ...] = ()
    member_version: str = ""


@dataclass(frozen=True)
class FakeChatPage:
    chats: tuple[tuple[str, int], ...]
    next_cursor: str


@dataclass
class FakeGroupChats:
    now: Callable[[], int]
    groups: dict[str, FakeChatDetail] = field(default_factory=dict)
    gets: int = 0
    lists: int = 0
    unavailable: bool = False  # every read refused (WeCom down)
    crash_after_gets: int | None = None  # raise a non-WeCom error (a crash) once this many gets were made
    _n: int = 0

    # --- the API -----------------------------------------------------------------------------------------------

    def list_group_chats(
        self,
        creds: WeComCredentials,
        *,
        cursor: str = "",
        limit: int = 1000,
        status_filter: int = 0,
        owners: list[str] | None = None,
    ) -> FakeChatPage:
        if self.unavailable:
            raise UpstreamError("groupchat/list failed")
        self.lists += 1
        ids = sorted(self.groups)
        start = int(cursor) if cursor else 0
        chunk = ids[start : start + limit]
        nxt = str(start + limit) if start + limit < len(ids) else ""
        return FakeChatPage(tuple((c, 0) for c in chunk), nxt)

    def get_group_chat(self, creds: WeComCredentials, chat_id: str) -> FakeChatDetail:
        if self.unavailable:
            raise UpstreamError("groupchat/get failed")
        if self.crash_after_gets is not None and self.gets >= self.crash_after_gets:
            raise RuntimeError("the worker died")
        self.gets += 1
        if chat_id not in self.groups:
            raise WeComInvalidArgumentError(40050, "chat not found", api="groupchat/get")  # a 4xxxx: invalid argument
        return self.groups[chat_id]

    # --- changes, each answered with the callback WeCom would send ---------------------------------------------

    def _version(self, chat_id: str) -> str:
        self._n += 1
        return hashlib.md5(f"{chat_id}:{self._n}".encode()).hexdigest()  # opaque, as WeCom's are

    def _event(self, chat_id: str, change_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "ToUserName": "wwcorp",
            "FromUserName": "sys",
            "CreateTime": str(self.now()),
            "MsgType": "event",
            "Event": "change_external_chat",
            "ChatId": chat_id,
            "ChangeType": change_type,
            **extra,
        }

    def create(
        self, chat_id: str, *, owner: str = "zhang", name: str = "", members: tuple[FakeChatMember, ...] = ()
    ) -> dict[str, Any]:
        owner_member = FakeChatMember(owner, type=1, join_time=self.now(), join_scene=1)
        self.groups[chat_id] = FakeChatDetail(
            chat_id,
            name=name,
            owner=owner,
            create_time=self.now(),
            members=(owner_member, *members),
            member_version=self._version(chat_id),
        )
        return self._event(chat_id, "create")

    def join(
        self, chat_id: str, userids: list[str], *, scene: int = 3, state: str = "", invitor: str = "", kind: int = 2
    ) -> dict[str, Any]:
        group = self.groups[chat_id]
        new = tuple(
            FakeChatMember(u, type=kind, join_time=self.now(), join_scene=scene, invitor=invitor, state=state)
            for u in userids
        )
        last, cur = group.member_version, self._version(chat_id)
        self.groups[chat_id] = replace(group, members=group.members + new, member_version=cur)
        return self._event(
            chat_id,
            "update",
            UpdateDetail="add_member",
            JoinScene=str(scene),
            MemChangeCnt=str(len(userids)),
            MemChangeList=list(userids),
            LastMemVer=last,
            CurMemVer=cur,
        )

    def leave(self, chat_id: str, userids: list[str], *, scene: int = 0) -> dict[str, Any]:
        group = self.groups[chat_id]
        last, cur = group.member_version, self._version(chat_id)
        kept = tuple(m for m in group.members if m.userid not in userids)
        self.groups[chat_id] = replace(group, members=kept, member_version=cur)
        return self._event(
            chat_id,
            "update",
            UpdateDetail="del_member",
            QuitScene=str(scene),
            MemChangeCnt=str(len(userids)),
            MemChangeList=list(userids),
            LastMemVer=last,
            CurMemVer=cur,
        )

    def change(self, chat_id: str, detail: str, **values: Any) -> dict[str, Any]:
        """change_owner / change_name / change_notice: the truth changes, the event names only the kind."""
        self.groups[chat_id] = replace(self.groups[chat_id], **values)
        return self._event(chat_id, "update", UpdateDetail=detail)

    def dismiss(self, chat_id: str) -> dict[str, Any]:
        self.groups.pop(chat_id, None)
        return self._event(chat_id, "dismiss")
