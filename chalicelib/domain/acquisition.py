"""Acquisition-link channels (获客链接, 获客助手): the URL handed out, the WeCom link's name, the quota's warning.

A link channel is a channel whose code is a WeCom acquisition link instead of a QR contact way. WeCom's link has no
state; the URL Siyu hands out carries ``customer_channel=<channel id>``, which WeCom reports as the add callback's
State, so intake finds the channel exactly as it does for a QR code. Each new customer added through any link spends
one unit of the corp's purchased quota (获客额度); at 0 the links stop adding anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalicelib.errors import InvalidError

LINK = "link"
LINK_NAME_CHARS = 30  # the WeCom link's name (shown in WeCom's admin list): the channel's name and an id suffix
LINK_SUFFIX_CHARS = 8
LOW_BALANCE = 100  # a quota with fewer adds left than this is low…
LOW_SHARE = 0.10  # …or with less than this share of what was bought


def handout_url(link_url: str, channel_id: str) -> str:
    """The URL to put in ads: WeCom's link with ``customer_channel`` = the channel id (its add's State)."""
    if not link_url:
        return ""
    return f"{link_url}{'&' if '?' in link_url else '?'}{urlencode({'customer_channel': channel_id})}"


def link_name(name: str, channel_id: str) -> str:
    """The WeCom link's name: the channel's name cut to fit, then ``·`` and the channel id's last characters, so the
    link of a channel whose save was lost is found again by name (and admins see which channel a link is)."""
    suffix = channel_id[-LINK_SUFFIX_CHARS:]
    return f"{name[: LINK_NAME_CHARS - LINK_SUFFIX_CHARS - 1]}·{suffix}"


def check_link_staff(mode: str, backup_userid: str | None, daily_caps: dict[str, int]) -> None:
    """A link's range is WeCom's to spread adds over: no backup and no per-staff daily caps (Siyu cannot rotate a
    link as it rotates a QR code after each add)."""
    if backup_userid or daily_caps:
        raise InvalidError("an acquisition link takes no backup_userid or daily_caps: WeCom spreads its adds itself")
    if mode not in ("single", "round_robin"):
        raise InvalidError("staff.mode must be 'single' or 'round_robin'")


@dataclass(frozen=True)
class QuotaView:
    """The corp's acquisition quota as the API and console show it, with its warning."""

    total: int
    balance: int
    batches: tuple[tuple[int, int], ...] = ()  # (expire_date unix seconds, balance)

    @property
    def exhausted(self) -> bool:
        return self.balance <= 0

    @property
    def low(self) -> bool:
        return self.balance < LOW_BALANCE or self.balance < self.total * LOW_SHARE

    @property
    def warning(self) -> str | None:
        if self.exhausted:
            return "获客额度已用完：获客链接不再添加客户，请在企业微信管理后台购买额度"
        if self.low:
            return f"获客额度不足：仅剩 {self.balance} 个（共 {self.total} 个），请及时在企业微信管理后台购买"
        return None

    def public(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "balance": self.balance,
            "quota_list": [{"expire_date": e, "balance": b} for e, b in self.batches],
            "low": self.low,
            "exhausted": self.exhausted,
            "warning": self.warning,
        }
