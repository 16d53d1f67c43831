"""The world's state: one Corp per corp_id (everything a tenant's WeCom holds), tokens, faults and the call log.

Plain dataclasses, so the snapshot codec (snapshot.py) persists them from their annotations alone. An API module that
needs new corp state adds a field with a default to ``Corp``; it is persisted and read back without other changes.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.wecom_world.day_two_state import AcqLink, LinkAdd, MomentTask, Transfer  # noqa: F401 (Corp's fields; the snapshot resolves them here)

MAX_NAME_CHARS = 30  # state, remark, tag and group names

# Staff task status (93338): 0 not sent, 2 sent. Customer status: 0 not sent, 1 sent, 2 not a friend, 3 limit hit.
STAFF_NOT_SENT, STAFF_SENT = 0, 2
SEND_PENDING, SEND_OK, SEND_NOT_FRIEND, SEND_LIMIT = 0, 1, 2, 3

EXTERNAL_USERID = re.compile(r"w[mo][0-9A-Za-z_-]{1,62}")


class WorldError(ValueError):
    """A control call the world cannot honour (unknown msgid, wrong staff, no contact way for a state...)."""


@dataclass(frozen=True)
class Call:
    """One API call as the world saw it: payload without access_token or secret, and the errcode it answered."""

    api: str
    corp_id: str
    payload: dict[str, Any]
    errcode: int


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    users: list[str]
    state: str
    remark: str
    skip_verify: bool
    created_at: float
    next_user: int = 0  # round-robin position


@dataclass
class Profile:
    name: str | None = None
    unionid: str | None = None
    gender: int | None = None
    avatar: str | None = None
    remark_mobiles: tuple[str, ...] = ()


@dataclass
class Follow:
    userid: str
    external_userid: str
    state: str
    createtime: int
    remark_mobiles: tuple[str, ...] = ()
    tags: list[str] = field(default_factory=list)
    active: bool = True  # False once the staff member deleted the customer (del_external_contact)
    customer_deleted: bool = False  # the customer deleted the staff member (del_follow_user)
    add_way: int = 1  # how it began (WeCom's add_way): 1 a QR code; 202 assigned by the corp, as a hand-over does

    @property
    def friends(self) -> bool:
        return self.active and not self.customer_deleted


@dataclass
class TagGroup:
    group_id: str
    name: str
    create_time: int
    order: int = 0
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class Tag:
    tag_id: str
    name: str
    group_id: str
    create_time: int
    order: int = 0


@dataclass
class WelcomeCode:
    userid: str
    external_userid: str
    issued_at: float
    used: bool = False


@dataclass
class OAuthCode:
    """A web sign-in code (oauth2/authorize → auth/getuserinfo): valid 5 minutes, for one use."""

    userid: str
    issued_at: float
    used: bool = False


@dataclass
class Media:
    """A temporary media (media/upload): valid 3 days from ``created_at``. Not the bytes: their size and hash."""

    type: str
    created_at: int
    filename: str
    size: int
    sha256: str = ""


@dataclass
class Recipient:
    external_userid: str
    status: int = SEND_PENDING
    send_time: int = 0


@dataclass
class Task:
    msgid: str
    corp_id: str
    sender: str
    create_time: int
    text: str
    attachments: list[dict[str, Any]]
    recipients: list[Recipient]  # external_userids ("single") or chat ids ("group")
    status: int = STAFF_NOT_SENT
    send_time: int = 0
    chat_type: str = "single"


@dataclass
class ChatMember:
    """A customer-group member: ``type`` 1 staff, 2 external; ``join_scene`` groupchat/get's enum (1 invited
    directly, 2 invite link, 3 group QR); ``state`` the join way's state when joined through one."""

    userid: str
    type: int
    join_time: int
    join_scene: int
    invitor: str = ""
    state: str = ""


@dataclass
class GroupChat:
    """A customer group (客户群). ``member_version`` changes on every membership change (CurMemVer); ``order`` is
    its place in groupchat/list, stable while groups come and go."""

    chat_id: str
    name: str
    owner: str
    create_time: int
    order: int
    member_version: str
    notice: str = ""
    admins: list[str] = field(default_factory=list)
    members: list[ChatMember] = field(default_factory=list)
    status: int = 0  # groupchat/list status: 0 normal (resignation hand-over states are not modelled)
    dismissed: bool = False  # dismissed groups are kept (join ways may name them) but listed and read as gone


@dataclass
class JoinWay:
    """A 「加入群聊」 configuration (92229). ``auto_chat_ids``: the rooms it created when its chats were full."""

    config_id: str
    scene: int
    chat_ids: list[str]
    state: str
    remark: str
    auto_create_room: bool
    room_base_name: str
    room_base_id: int
    created_at: float
    auto_chat_ids: list[str] = field(default_factory=list)


@dataclass
class StatEvent:
    """One thing WeCom's statistics count (statistics.py), kept as it happens so a past day's figures do not move
    when later changes come: ``kind`` one of STAT_KINDS; ``userid`` the staff member (a group's owner at the time
    for chat events); ``subject`` the customer (contact kinds) or the chat; ``member`` who joined, left or spoke."""

    kind: str
    at: int
    userid: str
    subject: str
    member: str = ""


@dataclass
class AppMessage:
    """An application message (message/send) as one member's WeCom got it: ``status`` delivered, ``duplicate``
    (the same request within its duplicate_check_interval: not shown again) or ``dropped`` (over the per-member
    frequency limit: WeCom drops it silently). ``digest`` is the request JSON's, for the duplicate check."""

    msgid: str
    agentid: int
    userid: str
    msgtype: str
    title: str
    description: str
    url: str
    btntxt: str
    sent_at: float
    status: str
    digest: str
    check_until: float = 0.0  # with enable_duplicate_check: the same request is a duplicate until then


# add: a relation created (first add or re-add); negative: the customer deleted the staff member; message: a staff
# member's message to a customer (welcome or mass message); chat_create, chat_dismiss, join, leave, group_message.
STAT_KINDS = ("add", "negative", "message", "chat_create", "chat_dismiss", "join", "leave", "group_message")


@dataclass
class JsTicket:
    """A JS-SDK ticket (tickets.py): the corp's jsapi_ticket or the app's agent_config ticket."""

    value: str
    expires_at: float


@dataclass
class ChatContext:
    """The chat the staff member ``userid`` has open in their WeCom client (the JS-SDK player's current chat)."""

    userid: str
    external_userid: str


@dataclass
class Corp:
    corp_id: str
    secret: str | None = None  # None: any secret is accepted
    unionid: bool = True  # bound to an Open Platform account, so unionid is returned
    monthly_limit: int | None = None  # mass messages one customer receives per month; None = days in the month
    ways: dict[str, ContactWay] = field(default_factory=dict)
    follows: dict[str, dict[str, Follow]] = field(default_factory=dict)  # external_userid -> userid -> relation
    profiles: dict[str, Profile] = field(default_factory=dict)
    groups: dict[str, TagGroup] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    welcome_codes: dict[str, WelcomeCode] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    received: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (external_userid, year, month)
    chats: dict[str, GroupChat] = field(default_factory=dict)  # customer groups (客户群) by chat_id
    join_ways: dict[str, JoinWay] = field(default_factory=dict)  # 「加入群聊」 by config_id
    chat_member_limit: int | None = None  # members per group; None = the world's (500 unless set)
    stat_events: list[StatEvent] = field(default_factory=list)  # what the statistics APIs count, oldest first
    app_messages: list[AppMessage] = field(default_factory=list)  # message/send (app_messages.py), oldest first
    members: dict[str, str] = field(default_factory=dict)  # corp members (staff) by userid -> name (sign-in page)
    oauth_codes: dict[str, OAuthCode] = field(default_factory=dict)  # web sign-in codes (oauth.py)
    js_tickets: dict[str, JsTicket] = field(default_factory=dict)  # JS-SDK tickets by kind (tickets.py)
    ticket_fetches: list[float] = field(default_factory=list)  # when tickets were fetched, within the last hour
    current_chat: ChatContext | None = None  # the chat the JS-SDK player's getCurExternalContact answers for
    media: dict[str, Media] = field(default_factory=dict)  # temporary media by media_id (media/upload)
    links: dict[str, AcqLink] = field(default_factory=dict)  # acquisition links (获客链接) by link_id
    link_quota_total: int = 1000  # acquisition adds bought (获客额度); each add through a link spends one
    link_quota_balance: int = 1000
    moments: dict[str, MomentTask] = field(default_factory=dict)  # Moments tasks by jobid (moments.py)
    # 客户继承 (handover.py): every transfer, oldest first; resigned staff (userid -> dimission_time); the customer
    # limit of staff members who have one (userid -> limit; others have none in the sandbox)
    transfers: list[Transfer] = field(default_factory=list)
    resigned: dict[str, int] = field(default_factory=dict)
    customer_limits: dict[str, int] = field(default_factory=dict)


@dataclass
class Token:
    corp_id: str
    expires_at: float


def digest(*parts: object) -> str:
    """The hash ids derive from (with the id sequence), so a world is deterministic."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def record(corp: Corp, kind: str, at: float, userid: str, subject: str, *members: str) -> None:
    """Keep a StatEvent (the statistics APIs read them; statistics.py): one per member given, else one."""
    for member in members or ("",):
        corp.stat_events.append(StatEvent(kind, int(at), userid, subject, member))


def check_external_userid(external_userid: str) -> None:
    if EXTERNAL_USERID.fullmatch(external_userid) is None:
        raise WorldError(f"{external_userid!r} does not look like an external_userid (wm…/wo…)")


class WorldState:
    """The mutable state and its lock. The API modules' functions take it as their first argument and run under
    ``lock``; WeComWorld adds the API dispatch and the test controls on top."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        max_contact_ways: int,
        max_tags: int,
        follow_page_size: int,
        max_chat_members: int = 500,
    ) -> None:
        self._clock = clock
        # Where the world's QR images are served (``{public_url}/qr/...``): the sandbox sets its own address.
        self.public_url = "http://sandbox"
        self.max_chat_members = max_chat_members  # a customer group's member limit; tests use a small one
        self.max_contact_ways = max_contact_ways
        self.max_tags = max_tags
        self.follow_page_size = follow_page_size
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything (corps, tokens, faults, calls)."""
        with self.lock:
            self.corps: dict[str, Corp] = {}
            self.tokens: dict[str, Token] = {}
            self.faults: dict[str, list[int]] = {}
            self.delays: dict[str, list[float]] = {}  # api -> seconds the next calls take before they answer
            self.call_log: list[Call] = []
            self.welcomes: list[dict[str, Any]] = []
            self.task_corp: dict[str, str] = {}
            self.seq = 0

    def now(self) -> float:
        return self._clock()

    def next_seq(self) -> int:
        """The next value of the id sequence (persisted, so ids made after a restore never repeat earlier ones)."""
        self.seq += 1
        return self.seq

    def corp(self, corp_id: str) -> Corp:
        """The corp, created empty on first use."""
        if not corp_id:
            raise WorldError("corp_id is required")
        corp = self.corps.get(corp_id)
        if corp is None:
            corp = self.corps[corp_id] = Corp(corp_id)
        return corp
