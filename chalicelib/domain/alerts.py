"""Alerts to staff (WeCom application messages) and hot leads: the pure rules.

A hot lead is a customer whose latest positive reply is at most ``HOT_DAYS`` old and who has not bought since (an
order clears it). An alert is one textcard to one staff member, made once per dedupe key (``alert_id``), due at once
or, inside the quiet hours, at their end. The card is built when it is sent, from ids: the outbox keeps no name, no
phone and never the customer's words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.plans import TouchRules, Window
from chalicelib.domain.timing import next_allowed

HOT_DAYS = 7  # a positive reply keeps the customer hot this long, unless they buy first
ALERT_TTL_DAYS = 30  # an outbox item (sent, failed or skipped) is kept this long, then DynamoDB's TTL deletes it

HOT, OVERDUE, LOST = "hot", "overdue", "lost"  # what an alert is about
KINDS = (HOT, OVERDUE, LOST)
PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
FINAL = frozenset({SENT, FAILED, SKIPPED})

TITLE_MAX_BYTES = 128  # textcard.title (message/send, page 90236)
DESCRIPTION_MAX_BYTES = 512  # textcard.description
URL_MAX_BYTES = 2048  # textcard.url
BTNTXT_MAX_CHARS = 4  # textcard.btntxt (WeCom truncates; we never send a longer one)
DUPLICATE_CHECK_MAX_SECONDS = 4 * 3600  # duplicate_check_interval: default 1800, at most 4 hours
# WeCom drops (silently) what an app sends one member beyond 30 a minute or 1,000 an hour. Siyu counts its own sends
# per calendar minute and hour and stays at half of that, so no rolling 60 s (or 3,600 s) window can pass WeCom's
# limits; an alert over its member's budget waits for the next minute (hour) instead of being dropped by WeCom.
SELF_PER_MINUTE, SELF_PER_HOUR = 15, 500


@dataclass(frozen=True)
class HotLead:
    """A customer made hot by a positive reply (``ref``: the reply's event digest) at ``hot_at`` (ISO, tenant zone),
    for ``owner_userid`` (the owner when it became hot), hot until ``until``."""

    customer_id: str
    owner_userid: str
    hot_at: str
    until: str
    ref: str


@dataclass(frozen=True)
class Alert:
    """One application message to one staff member, in the outbox until it is sent (or given up)."""

    alert_id: str
    kind: str  # hot | overdue | lost
    userid: str  # who gets it
    dedupe_key: str
    due_at: str  # ISO, tenant zone: now, or the end of the quiet hours
    created_at: str
    customer_id: str | None = None
    task_id: str | None = None
    status: str = PENDING
    attempts: int = 0
    deferred: bool = False  # its due time was moved out of the quiet hours
    lease_until: str | None = None  # while ``sending``: a crashed sender's claim ends then
    sent_at: str | None = None
    msgid: str | None = None
    reason: str | None = None  # why it failed or was skipped (an error code, "erased", "no_agent")


def alert_id(tenant_id: str, dedupe_key: str) -> str:
    """The alert's id, derived from its dedupe key: a repeat of the same fact finds the same outbox item."""
    return "al_" + hashlib.sha256(f"{tenant_id}\x00{dedupe_key}".encode()).hexdigest()[:24]


def hot_until(hot_at: datetime, days: int = HOT_DAYS) -> datetime:
    return hot_at + timedelta(days=days)


def deliver_at(now: datetime, quiet: Window | None, zone: ZoneInfo) -> datetime:
    """``now``, or the end of the quiet hours when ``now`` is inside them (moved, never dropped)."""
    if quiet is None:
        return now
    due, _ = next_allowed(now, "alert", TouchRules(quiet_hours=quiet, content_windows={}, daily_caps={}), zone)
    return due


def rate_windows(now: datetime) -> tuple[str, str]:
    """The calendar minute and hour (UTC) a send counts toward: ``("2026-12-01T02:05", "2026-12-01T02")``."""
    at = now.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M"), at.strftime("%Y-%m-%dT%H")


def next_window(now: datetime, window: str) -> datetime:
    """The start of the next calendar ``window`` ("minute" or "hour") after ``now``."""
    at = now.astimezone(UTC).replace(second=0, microsecond=0)
    if window == "hour":
        return at.replace(minute=0) + timedelta(hours=1)
    return at + timedelta(minutes=1)


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed try an alert is tried again: 5, 10, 20, 40 … minutes, ≤ 2 h."""
    return timedelta(minutes=min(5 * 2 ** max(attempts - 1, 0), 120))


def failed_try(alert: Alert, *, now: datetime, zone: ZoneInfo, code: str, max_attempts: int) -> Alert:
    """The alert after a failed send: pending again a little later, or ``failed`` after ``max_attempts``."""
    attempts = alert.attempts + 1
    if attempts >= max_attempts:
        return replace(alert, status=FAILED, attempts=attempts, reason=code, lease_until=None)
    due = (now + retry_delay(attempts)).astimezone(zone).isoformat()
    return replace(alert, status=PENDING, attempts=attempts, due_at=due, reason=code, lease_until=None)


@dataclass(frozen=True)
class Card:
    """A textcard's fields (message/send msgtype textcard)."""

    title: str
    description: str
    url: str
    btntxt: str


def card_for(alert: Alert, *, name: str, when: str, console_url: str, tenant_id: str, lead: str = "") -> Card:
    """The textcard of an alert: what happened, to whom (a name is fine in WeCom, never in logs), and a link to the
    console page that acts on it. Never the customer's words or phone."""
    who = name or "一位客户"
    base = console_url.rstrip("/")
    if alert.kind == HOT:
        title = f"热线索：{who}刚刚积极回复"
        body = "客户表达了兴趣，请尽快一对一跟进（15 分钟内）。"
        path, btn = f"/console/{tenant_id}/customers/{alert.customer_id}", "去跟进"
    elif alert.kind == LOST:
        title = f"客户流失：{who}"
        body = "客户已删除或不再是好友，请查看原因并视情况挽回。"
        path, btn = f"/console/{tenant_id}/customers/{alert.customer_id}", "看客户"
    else:
        title = "任务逾期已升级" if lead else "任务逾期"
        body = f"{lead}的群发任务逾期未发送，已升级给你。" if lead else "你的群发任务逾期未发送，已通知主管。"
        path, btn = f"/console/{tenant_id}/my", "去处理"
    description = f'<div class="gray">{when}</div><div class="normal">{body}</div>'
    return Card(
        title=clip_bytes(title, TITLE_MAX_BYTES),
        description=clip_bytes(description, DESCRIPTION_MAX_BYTES),
        url=base + path,
        btntxt=btn[:BTNTXT_MAX_CHARS],
    )


def clip_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")
