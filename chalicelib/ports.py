"""Ports: the Protocols services depend on, and the plain data that crosses them.

Adapters (DynamoDB, WeCom HTTP, the clock) implement these; unit tests pass in-memory fakes instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# --- WeCom ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeComCredentials:
    """What the client needs to call WeCom for one tenant (corp id + the customer-contact secret)."""

    tenant_id: str
    corp_id: str
    secret: str


@dataclass(frozen=True)
class ContactWay:
    config_id: str
    qr_code: str


@dataclass(frozen=True)
class FollowUser:
    """One staff member's relation to an external contact, as ``externalcontact/get`` reports it."""

    userid: str
    remark: str = ""
    state: str = ""
    createtime: int = 0
    remark_mobiles: tuple[str, ...] = ()
    tag_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExternalProfile:
    """The part of ``externalcontact/get`` Siyu keeps. unionid is empty unless the corp bound an Open Platform."""

    external_userid: str
    name: str = ""
    type: int = 1
    gender: int = 0
    avatar: str = ""
    unionid: str = ""
    corp_name: str = ""
    follow_users: tuple[FollowUser, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A message attachment in WeCom's shape: msgtype plus its body (image/link/miniprogram/video/file)."""

    msgtype: str
    body: dict[str, Any]

    def to_wecom(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype, self.msgtype: self.body}


@dataclass(frozen=True)
class Message:
    """Text plus up to 9 attachments: the body of welcome messages and mass-message tasks."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class CorpTagGroup:
    group_id: str
    group_name: str
    tags: dict[str, str] = field(default_factory=dict)  # tag name -> tag id


@dataclass(frozen=True)
class MsgTemplateResult:
    msgid: str
    fail_list: tuple[str, ...] = ()


class WelcomeOutcome:
    """Outcome of ``send_welcome_msg``: sent, or a documented reason why not (no retry for any of them)."""

    SENT = "sent"
    ALREADY_DELIVERED = "already_delivered"  # 41051: the customer is already chatting
    OTHER_APP = "other_app"  # 41096: another app is delivering the welcome message
    EXPIRED = "expired"  # the 20 s welcome_code is spent or invalid
    NO_CODE = "no_code"  # WeCom sent no WelcomeCode (already chatted, or console welcome configured)
    NO_MESSAGE = "no_message"  # the channel has no welcome message
    FAILED = "failed"  # any other errcode; logged, not retried


class WeComPort(Protocol):
    """The WeCom server API Siyu calls. One implementation talks HTTP to WeCom or to the sandbox."""

    def add_contact_way(
        self, creds: WeComCredentials, *, users: list[str], state: str, remark: str = ""
    ) -> ContactWay: ...

    def update_contact_way(
        self, creds: WeComCredentials, *, config_id: str, users: list[str], state: str, remark: str = ""
    ) -> None: ...

    def del_contact_way(self, creds: WeComCredentials, *, config_id: str) -> None: ...

    def get_external_contact(self, creds: WeComCredentials, external_userid: str) -> ExternalProfile: ...

    def mark_tag(
        self,
        creds: WeComCredentials,
        *,
        userid: str,
        external_userid: str,
        add_tag: list[str],
        remove_tag: list[str],
    ) -> None: ...

    def send_welcome_msg(self, creds: WeComCredentials, *, welcome_code: str, message: Message) -> str:
        """Returns a WelcomeOutcome value; never raises for the documented 'do not retry' codes."""
        ...

    def get_corp_tag_list(self, creds: WeComCredentials) -> list[CorpTagGroup]: ...

    def add_corp_tags(self, creds: WeComCredentials, *, group_name: str, tag_names: list[str]) -> CorpTagGroup:
        """Creates the tags in the named group (creating the group if needed); returns the group with ids."""
        ...

    def del_corp_tags(self, creds: WeComCredentials, *, tag_ids: list[str], group_ids: list[str]) -> None: ...

    def add_msg_template(
        self, creds: WeComCredentials, *, sender: str, external_userids: list[str], message: Message
    ) -> MsgTemplateResult: ...

    def get_groupmsg_task(self, creds: WeComCredentials, *, msgid: str, cursor: str = "") -> dict[str, Any]: ...

    def get_groupmsg_send_result(
        self, creds: WeComCredentials, *, msgid: str, userid: str, cursor: str = ""
    ) -> dict[str, Any]: ...


# --- time and ids -----------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str:
        """A new unique, URL-safe id starting with ``prefix``."""
        ...

    def secret(self, nbytes: int = 32) -> str:
        """A new random URL-safe secret."""
        ...
