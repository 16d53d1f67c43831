"""What the group services need: WeCom's group reads and the storage of members, history and sync jobs.

The WeCom side is typed by the attributes read here, so any client whose ``list_group_chats`` / ``get_group_chat``
answer objects with these attributes fits (chalicelib/group_ports.py's DTOs, the sandbox's, a test's fake).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias
from chalicelib.domain.group_members import GroupMember, MemberChange
from chalicelib.domain.staff import Staff
from chalicelib.errors import UpstreamError
from chalicelib.ports import GroupRepository, Page, WeComCredentials


class ChatMember(Protocol):
    @property
    def userid(self) -> str: ...
    @property
    def type(self) -> int: ...
    @property
    def join_time(self) -> int: ...
    @property
    def join_scene(self) -> int: ...
    @property
    def invitor(self) -> str: ...
    @property
    def state(self) -> str: ...


class ChatDetail(Protocol):
    @property
    def chat_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def create_time(self) -> int: ...
    @property
    def notice(self) -> str: ...
    @property
    def members(self) -> Sequence[ChatMember]: ...
    @property
    def admins(self) -> Sequence[str]: ...
    @property
    def member_version(self) -> str: ...


class ChatPage(Protocol):
    @property
    def chats(self) -> Sequence[tuple[str, int]]: ...
    @property
    def next_cursor(self) -> str: ...


class GroupChatSource(Protocol):
    """``groupchat/list`` and ``groupchat/get`` (WeComPort's group methods)."""

    def list_group_chats(
        self,
        creds: WeComCredentials,
        *,
        cursor: str = "",
        limit: int = 1000,
        status_filter: int = 0,
        owners: list[str] | None = None,
    ) -> ChatPage: ...

    def get_group_chat(self, creds: WeComCredentials, chat_id: str) -> ChatDetail: ...


class GroupMemberRepository(Protocol):
    """Members, their history, the index of an external member's groups (for erasure), and the sync's jobs."""

    def get_members(self, tenant_id: str, chat_id: str, member_keys: list[str]) -> dict[str, GroupMember]: ...
    def list_members(self, tenant_id: str, chat_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def put_members(self, tenant_id: str, chat_id: str, members: list[GroupMember]) -> None: ...
    def add_member_change(self, tenant_id: str, chat_id: str, change: MemberChange) -> bool: ...
    def member_changes(self, tenant_id: str, chat_id: str, member_key: str) -> list[MemberChange]: ...
    def member_chats(self, tenant_id: str, member_key: str) -> list[str]: ...
    def erase_group_member(self, tenant_id: str, chat_id: str, member_key: str) -> int: ...
    def claim_group_sync(self, tenant_id: str, job: dict[str, Any]) -> dict[str, Any]: ...
    def save_group_sync(self, tenant_id: str, job: dict[str, Any]) -> bool: ...
    def get_group_sync(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...
    def current_group_sync(self, tenant_id: str) -> dict[str, Any] | None: ...


class GroupStore(GroupRepository, GroupMemberRepository, Protocol):
    """Everything the group services read and write."""

    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...
    def list_staff(self, tenant_id: str) -> list[Staff]: ...


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
