"""The sandbox's customer-group controls (客户群): what tests and the sandbox phone do as WeCom's people would, each
returning the change_external_chat callbacks it caused, oldest first. A mixin of WeComWorld (world.py)."""

from __future__ import annotations

from typing import Any

from devstack.wecom_world import groups, join_ways, statistics
from devstack.wecom_world.groups import Person
from devstack.wecom_world.state import WorldState


class GroupControls(WorldState):
    # --- customer groups (客户群): the controls return the change_external_chat callbacks, oldest first ----------

    def seed_group(
        self,
        corp_id: str,
        *,
        owner: str,
        name: str,
        members: list[str] | tuple[str, ...] = (),
        notice: str = "",
        admins: list[str] | tuple[str, ...] = (),
        now: float | None = None,
    ) -> dict[str, Any]:
        """A group that existed before Siyu was connected (no callback): ``owner`` plus ``members`` (external ids
        wm…/wo…, others staff). Returns the group as ``groups()`` shows it."""
        with self.lock:
            return groups.seed_group(
                self, corp_id, owner=owner, name=name, members=members, notice=notice, admins=admins, now=now
            )

    def group_join(
        self,
        corp_id: str,
        *,
        config_id: str = "",
        chat_id: str = "",
        external_userid: str = "",
        userid: str = "",
        invitor: str = "",
        now: float | None = None,
    ) -> list[dict[str, Any]]:
        """A person joins through the join way ``config_id`` (the first group not full; a new room when all are and
        auto_create_room is on: its ``create`` comes first) or directly into ``chat_id``; the callbacks."""
        with self.lock:
            person = Person.of(external_userid=external_userid, userid=userid)
            return join_ways.join(self, corp_id, person, config_id=config_id, chat_id=chat_id, invitor=invitor, now=now)

    def group_leave(
        self,
        corp_id: str,
        chat_id: str,
        *,
        external_userid: str = "",
        userid: str = "",
        removed: bool = False,
        now: float | None = None,
    ) -> dict[str, Any]:
        """A member leaves (QuitScene 0) or is removed (1); the del_member callback."""
        with self.lock:
            person = Person.of(external_userid=external_userid, userid=userid)
            return groups.leave(self, corp_id, chat_id, person, removed=removed, now=now)

    def group_change(
        self,
        corp_id: str,
        change: str,
        *,
        chat_id: str = "",
        owner: str = "",
        name: str | None = None,
        notice: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """create | dismiss | change_owner | change_name | change_notice; the callback."""
        with self.lock:
            return groups.change(self, corp_id, change, chat_id=chat_id, owner=owner, name=name, notice=notice, now=now)

    def group_message(self, corp_id: str, chat_id: str, sender: str, *, now: float | None = None) -> None:
        """``sender`` (a member) speaks in the group: counted by the group statistics (no callback: WeCom sends
        none for messages)."""
        with self.lock:
            statistics.group_message(self.corp(corp_id), chat_id, sender, self.now() if now is None else now)

    def groups(self, corp_id: str) -> list[dict[str, Any]]:
        """The corp's groups, dismissed ones included (flagged), oldest first."""
        with self.lock:
            corp = self.corp(corp_id)
            return [groups.describe(chat) for chat in sorted(corp.chats.values(), key=lambda c: c.order)]
