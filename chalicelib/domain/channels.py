"""Channels (渠道活码): a QR code (or an acquisition link: kind "link", domain/acquisition.py) per source, its staff
assignment, welcome message (欢迎语) and auto-tags.

The channel id doubles as the WeCom ``state`` (≤ 30 chars), so the callback finds its channel with one key read.
Referral channels (老带新) carry the referrer's customer id and the prefix ``rf``; their id is random (``rf_<random>``)
so the records of those they bring name no one. Older codes were ``rf_<cid>`` (see ``legacy_referral_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.acquisition import handout_url
from chalicelib.domain.messages import Attachment, Message
from chalicelib.errors import InvalidError

MAX_STATE = 30
MAX_WELCOME_TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
MAX_STAFF_PER_CODE = 100  # WeCom: at most 100 members per contact way
ORGANIC = "organic"
SOURCES = (
    "douyin",
    "bilibili",
    "wechat_official",
    "wechat_ads",
    "xiaohongshu",
    "zhihu",
    "kuaishou",
    "baidu",
    "offline_poster",
    "campus_agent",
    "referral",
    "website",
    "other",
)
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")


@dataclass(frozen=True)
class Assignment:
    """Who the code adds: one staff member, or strict round-robin over a list with daily caps and a backup."""

    mode: str = "single"  # single | round_robin
    userids: tuple[str, ...] = ()
    backup_userid: str | None = None
    daily_caps: dict[str, int] = field(default_factory=dict)  # per-staff cap for this channel, per local day

    def public(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "userids": list(self.userids),
            "backup_userid": self.backup_userid,
            "daily_caps": dict(self.daily_caps),
        }


@dataclass(frozen=True)
class ChannelTag:
    """An auto-tag with its WeCom id denormalised, so intake tags a customer without reading the taxonomy."""

    tag_id: str
    group: str
    name: str
    wecom_id: str = ""


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    source: str
    campaign: str = ""
    assignment: Assignment = field(default_factory=Assignment)
    welcome: Message = field(default_factory=Message)
    tags: tuple[ChannelTag, ...] = ()
    plan_id: str | None = None
    spend: float | None = None  # yuan, for CAC
    exposure: int | None = None  # impressions / landing-page UV, for add rate
    config_id: str = ""
    qr_code: str = ""
    kind: str = "standard"  # standard (QR) | referral (老带新 QR) | link (获客链接, domain/acquisition.py)
    link_id: str = ""  # kind "link": WeCom's link id ("" while it is being created)
    link_url: str = ""  # kind "link": WeCom's URL, without customer_channel
    referrer_customer_id: str | None = None
    full_date: str = ""  # local date the ``full`` list belongs to
    full: tuple[str, ...] = ()  # staff at their cap on ``full_date``
    created_at: str = ""
    updated_at: str = ""
    version: int = 0

    @property
    def state(self) -> str:
        return self.channel_id

    def public(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "state": self.state,
            "name": self.name,
            "source": self.source,
            "campaign": self.campaign,
            "staff": self.assignment.public(),
            "welcome": message_to_json(self.welcome),
            "tags": [{"tag_id": t.tag_id, "group": t.group, "name": t.name} for t in self.tags],
            "plan_id": self.plan_id,
            "spend": self.spend,
            "exposure": self.exposure,
            "config_id": self.config_id,
            "qr_code": self.qr_code,
            "kind": self.kind,
            "link_id": self.link_id,
            "url": handout_url(self.link_url, self.channel_id),
            "referrer_customer_id": self.referrer_customer_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def full_today(self, today: str) -> frozenset[str]:
        return frozenset(self.full) if self.full_date == today else frozenset()


def legacy_referral_id(customer_id: str) -> str:
    """The id a customer's referral code had before ids were random: it named them (erasure still rewrites it)."""
    return "rf_" + customer_id[1:]


def is_referral_of(channel: Channel, customer_id: str) -> bool:
    """Whether this is the customer's referral code (a legacy id is only theirs if the code says so)."""
    return channel.kind == "referral" and channel.referrer_customer_id == customer_id


def message_from_json(data: dict[str, Any] | None) -> Message:
    """Validate and convert a message: text ≤ 4000 UTF-8 bytes and ≤ 9 attachments, as WeCom allows; content
    library items by reference (``content_ids``) count toward the 9 (their existence is the saving service's check)."""
    if not data:
        return Message()
    text = data.get("text") or ""
    if len(text.encode("utf-8")) > MAX_WELCOME_TEXT_BYTES:
        raise InvalidError(f"message text is {len(text.encode('utf-8'))} bytes; WeCom allows {MAX_WELCOME_TEXT_BYTES}")
    raw = data.get("attachments") or []
    refs = tuple(str(c) for c in data.get("content_ids") or [])
    if len(raw) + len(refs) > MAX_ATTACHMENTS:
        raise InvalidError(f"a message takes at most {MAX_ATTACHMENTS} attachments, got {len(raw) + len(refs)}")
    if len(set(refs)) != len(refs):
        raise InvalidError("content_ids names an item twice")
    attachments = []
    for i, a in enumerate(raw):
        msgtype = a.get("msgtype")
        if msgtype not in ATTACHMENT_TYPES or not isinstance(a.get(msgtype), dict):
            raise InvalidError(f"attachments[{i}] needs msgtype in {ATTACHMENT_TYPES} and a matching object")
        attachments.append(Attachment(msgtype=msgtype, body=dict(a[msgtype])))
    return Message(text=text, attachments=tuple(attachments), content_ids=refs)


def message_to_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"text": message.text, "attachments": [a.to_wecom() for a in message.attachments]}
    if message.content_ids:  # only when there are some: documents written before the library read as they were
        out["content_ids"] = list(message.content_ids)
    return out


def check_assignment(a: Assignment, known_staff: set[str]) -> None:
    """Every named staff member must exist and be active; round-robin needs a list, single exactly one."""
    if a.mode not in ("single", "round_robin"):
        raise InvalidError("staff.mode must be 'single' or 'round_robin'")
    if not a.userids:
        raise InvalidError("staff.userids must name at least one staff member")
    if a.mode == "single" and len(a.userids) != 1:
        raise InvalidError("staff.mode 'single' takes exactly one userid")
    if len(a.userids) > MAX_STAFF_PER_CODE:
        raise InvalidError(f"a channel code takes at most {MAX_STAFF_PER_CODE} staff members")
    if len(set(a.userids)) != len(a.userids):
        raise InvalidError("staff.userids contains duplicates")
    named = set(a.userids) | ({a.backup_userid} if a.backup_userid else set()) | set(a.daily_caps)
    unknown = sorted(named - known_staff)
    if unknown:
        raise InvalidError(f"unknown or inactive staff: {', '.join(unknown)}")


def code_users(channel: Channel, after: str | None, today: str, full: frozenset[str]) -> list[str]:
    """Who the code should add next. Single: the one member (backup when full). Round-robin: the first member
    after ``after`` in list order who is not full today; the backup when everyone is full."""
    a = channel.assignment
    eligible = [u for u in a.userids if u not in full]
    if not eligible:
        return [a.backup_userid] if a.backup_userid else list(a.userids[:1])
    if a.mode == "single" or after is None or after not in a.userids:
        return eligible[:1]
    order = list(a.userids)
    start = order.index(after)
    for step in range(1, len(order) + 1):
        candidate = order[(start + step) % len(order)]
        if candidate not in full:
            return [candidate]
    return eligible[:1]


def at_cap(channel: Channel, userid: str, channel_adds: int, staff_adds: int, staff_cap: int | None) -> bool:
    """Whether ``userid`` has reached the channel's cap or their own daily cap after today's adds."""
    ch_cap = channel.assignment.daily_caps.get(userid)
    return (ch_cap is not None and channel_adds >= ch_cap) or (staff_cap is not None and staff_adds >= staff_cap)


def mark_full(channel: Channel, userid: str, today: str) -> Channel:
    full = channel.full_today(today) | {userid}
    return replace(channel, full_date=today, full=tuple(sorted(full)))
