"""Customer groups kept true: ``change_external_chat`` callbacks (events.py), members and their history
(members.py), and the resumable group sync (sync.py)."""

from __future__ import annotations

from typing import Any, cast

from chalicelib.errors import UpstreamError
from chalicelib.ports import WeComCredentials
from chalicelib.services.groups.events import GroupEvents
from chalicelib.services.groups.members import MemberBook, member_key
from chalicelib.services.groups.ports import ChatDetail, ChatPage, GroupChatSource
from chalicelib.services.groups.sync import GroupSync

__all__ = ["GroupEvents", "GroupSync", "MemberBook", "chat_source", "member_key"]


class _NoGroupReads:
    """Stands in for a WeCom client that cannot read groups yet: every read is refused as WeCom being
    unavailable, so a callback defers its re-read to the repair queue and a sync waits for the next run."""

    def list_group_chats(self, creds: WeComCredentials, **kwargs: Any) -> ChatPage:
        raise UpstreamError("this WeCom client cannot read customer groups")

    def get_group_chat(self, creds: WeComCredentials, chat_id: str) -> ChatDetail:
        raise UpstreamError("this WeCom client cannot read customer groups")


def chat_source(wecom: Any) -> GroupChatSource:
    """``wecom`` as the group reads' source, if it has them."""
    if callable(getattr(wecom, "get_group_chat", None)) and callable(getattr(wecom, "list_group_chats", None)):
        return cast(GroupChatSource, wecom)
    return cast(GroupChatSource, _NoGroupReads())
