"""The WeCom port: the server API Siyu calls, and the plain data that crosses it (re-exported by chalicelib.ports).

One implementation (adapters/wecom/client.py) talks HTTP to WeCom or to the sandbox; unit tests of the SOP kernel
pass a recorder (tests/fakes/wecom.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.alerts import Card
from chalicelib.domain.messages import Message
from chalicelib.ports.acquisition import AcquisitionLinkPort
from chalicelib.ports.jssdk import JsApiTicketPort
from chalicelib.ports.statistics import WeComStatisticsPort

if TYPE_CHECKING:  # the group APIs' data lives in group_ports.py
    from chalicelib.group_ports import GroupChatDetail, GroupChatPage, JoinWay

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
    add_way: int = 0  # how the relation began (WeCom's add_way: 201 shared by a colleague, 202 assigned by the corp)


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
class CorpTagGroup:
    group_id: str
    group_name: str
    tags: dict[str, str] = field(default_factory=dict)  # tag name -> tag id


@dataclass(frozen=True)
class MsgTemplateResult:
    msgid: str
    fail_list: tuple[str, ...] = ()


MEDIA_TYPES = ("image", "voice", "video", "file")  # media/upload's type (page 90389)
INVALID_MEDIA_ID = 40007  # a media_id WeCom does not take: unknown, or past its 3 days (global errcodes 90313)


@dataclass(frozen=True)
class UploadedMedia:
    """A temporary media (media/upload): valid 3 days from ``created_at`` (unix seconds, WeCom's clock)."""

    media_id: str
    created_at: int


class MediaPort(Protocol):
    """WeCom's temporary media (临时素材): what a message's image, file or mini-program cover is sent as."""

    def upload_media(
        self, creds: WeComCredentials, *, media_type: str, filename: str, content_type: str, data: bytes
    ) -> UploadedMedia:
        """Upload ``data`` (multipart, field ``media``) as ``media_type``; WeCom's documented size limits are checked
        before the call (InvalidError)."""
        ...


class WelcomeOutcome:
    """Outcome of ``send_welcome_msg``: sent, or a documented reason why not (no retry for any of them)."""

    SENT = "sent"
    ALREADY_DELIVERED = "already_delivered"  # 41051: the customer is already chatting
    OTHER_APP = "other_app"  # 41096: another app is delivering the welcome message
    EXPIRED = "expired"  # the 20 s welcome_code is spent or invalid
    MEDIA_EXPIRED = "media_expired"  # 40007: an attachment's media_id is invalid or past its 3 days
    NO_CODE = "no_code"  # WeCom sent no WelcomeCode (already chatted, or console welcome configured)
    NO_MESSAGE = "no_message"  # the channel has no welcome message
    FAILED = "failed"  # any other errcode; logged, not retried


@dataclass(frozen=True)
class AppMessageResult:
    """message/send's answer: its msgid, and the recipients WeCom refused (invaliduser, lowercased by WeCom)."""

    msgid: str
    invalid_users: tuple[str, ...] = ()


class AppMessagePort(Protocol):
    """Application messages to staff (发送应用消息, message/send, page 90236)."""

    def send_app_message(
        self,
        creds: WeComCredentials,
        *,
        agent_id: int,
        touser: str,
        card: Card,
        duplicate_check_interval: int = 1800,
    ) -> AppMessageResult:
        """A textcard to one member from the app ``agent_id``, with WeCom's duplicate check on: the same request
        within ``duplicate_check_interval`` seconds (at most 4 h) reaches them once."""
        ...


class JoinWayPort(Protocol):
    """WeCom's join ways (「加入群聊」, groupchat/*_join_way): what a group live code needs of WeCom."""

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
        """A 「加入群聊」 QR for up to 5 chats; returns its config_id (get_join_way gives the qr_code)."""
        ...

    def get_join_way(self, creds: WeComCredentials, config_id: str) -> JoinWay: ...

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
    ) -> None: ...

    def del_join_way(self, creds: WeComCredentials, config_id: str) -> None: ...


class WeComPort(
    JoinWayPort, WeComStatisticsPort, MediaPort, JsApiTicketPort, AppMessagePort, AcquisitionLinkPort, Protocol
):
    """The WeCom server API Siyu calls. One implementation talks HTTP to WeCom or to the sandbox."""

    def user_id_from_code(self, creds: WeComCredentials, code: str) -> str:
        """The corp member a staff sign-in's OAuth code was issued to (auth/getuserinfo)."""
        ...

    def add_contact_way(
        self, creds: WeComCredentials, *, users: list[str], state: str, remark: str = ""
    ) -> ContactWay: ...

    def update_contact_way(
        self, creds: WeComCredentials, *, config_id: str, users: list[str], state: str, remark: str = ""
    ) -> None: ...

    def del_contact_way(self, creds: WeComCredentials, *, config_id: str) -> None: ...

    def qr_image(self, url: str) -> bytes:
        """The image behind a contact way's ``qr_code`` URL (for the channel poster)."""
        ...

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
        self,
        creds: WeComCredentials,
        *,
        sender: str,
        message: Message,
        chat_type: str = "single",
        external_userids: list[str] | None = None,
        chat_ids: list[str] | None = None,
    ) -> MsgTemplateResult:
        """A confirm-to-send task (企业群发): ``chat_type`` "single" to customers (``external_userids``, at most
        10,000) or "group" to customer group chats (``chat_ids``, at most 2,000)."""
        ...

    def get_groupmsg_task(self, creds: WeComCredentials, *, msgid: str, cursor: str = "") -> dict[str, Any]: ...

    def get_groupmsg_list(
        self,
        creds: WeComCredentials,
        *,
        start_time: int,
        end_time: int,
        creator: str = "",
        cursor: str = "",
        chat_type: str = "single",
    ) -> dict[str, Any]:
        """Mass messages of ``chat_type`` created in [start_time, end_time] (get_groupmsg_list_v2): reconciles lost
        msgids."""
        ...

    def get_groupmsg_send_result(
        self, creds: WeComCredentials, *, msgid: str, userid: str, cursor: str = ""
    ) -> dict[str, Any]: ...

    # customer groups (客户群): groupchat/list, groupchat/get (need_name=1); the join ways are JoinWayPort's
    def list_group_chats(
        self,
        creds: WeComCredentials,
        *,
        cursor: str = "",
        limit: int = 1000,
        status_filter: int = 0,
        owners: list[str] | None = None,
    ) -> GroupChatPage: ...

    def get_group_chat(self, creds: WeComCredentials, chat_id: str) -> GroupChatDetail: ...
