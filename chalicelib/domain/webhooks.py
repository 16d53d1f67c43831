"""Outbound webhooks (issue 14 §6): subscriptions, the outbox's deliveries and their pure rules.

A tenant subscribes a URL to event types. Each signal an active subscription wants becomes one delivery in the
outbox, whose id derives from the subscription and the signal's own identity (its ``ref``), so a signal heard twice
makes one delivery. The sender POSTs it signed as inbound business events are (domain/business_events.sign), retries
with BACKOFF and gives up into the dead letters. Deliveries of one subject (a customer, a group, a staff member) to
one subscription go out in the order they happened: a later one waits while an earlier one retries.

The outbox keeps ids only: personal data (name, masked phone, external_userid) is read when a delivery is sent and
put in its body only in the fields the subscription opted into. Pure: nothing here reads the clock or storage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain import signals as s
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.errors import InvalidError

# The event types a subscription may want, each from one signal type (wiring.py subscribes the outbox to these).
EVENT_OF = {
    s.ADDED: "customer.added",
    s.LOST: "customer.lost",
    s.MERGED: "customer.merged",
    s.STAGE: "customer.stage_changed",
    s.ORDER: "order.recorded",
    s.TOUCH_SENT: "touch.sent",
    s.TASK_CONFIRMED: "task.confirmed",
    s.GROUP_JOINED: "group.joined",
    s.CHECKED_IN: "customer.checked_in",
}
EVENTS = tuple(EVENT_OF.values())
SIGNAL_TYPES = tuple(EVENT_OF)
# The personal fields a subscription may opt into (default: none). Only customers' and group members' own data.
PII_FIELDS = ("name", "phone_masked", "external_userid")

ACTIVE, PAUSED = "active", "paused"
PENDING, DELIVERED, DEAD, DROPPED = "pending", "delivered", "dead", "dropped"
# Retries after the first try: 1 min, 5 min, 30 min, 2 h, 6 h; a delivery failing the sixth time is a dead letter.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
TIMEOUT_SECONDS = 5.0  # per try: a slow receiver is a failed try, retried later
MAX_WEBHOOKS = 10  # subscriptions per tenant
DELIVERY_TTL_DAYS = 30  # a delivered (or dead) delivery is kept this long, then DynamoDB's TTL deletes it
MAX_URL = 2048
SECRET_PREFIX = "whsec_"
LOCAL_HOSTS = frozenset({"localhost"})
# WeCom's customer-group chat ids start so; customer ids never do (domain/customers.customer_id_for: "c…").
CHAT_PREFIX = "wr"


@dataclass(frozen=True)
class Subscription:
    """One tenant URL and what it wants. ``secret`` signs every delivery (shown once, at creation or rotation); with
    a secret store (deployed) it is kept there and read back only by the sender (``webhook_secret``)."""

    webhook_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: str
    pii: tuple[str, ...] = ()
    status: str = ACTIVE
    description: str = ""
    version: int = 1
    updated_at: str = ""
    secrets_version: int | None = None  # deployed: ``secret`` lives in SSM (this version); the item holds ""

    def public(self) -> dict[str, Any]:
        """The subscription as the API lists it: never its secret."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "events": list(self.events),
            "pii": list(self.pii),
            "status": self.status,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "version": self.version,
        }


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription, from the outbox to its receiver. ``seq`` orders a subject's deliveries."""

    delivery_id: str
    webhook_id: str
    event: str
    subject: str  # "customer:<cid>" | "group:<chat_id>" | "staff:<userid>"
    seq: str
    occurred_at: str  # ISO, tenant zone
    created_at: str
    due_at: str  # ISO: when the sender tries it next (pending only)
    data: dict[str, Any] = field(default_factory=dict)  # ids and amounts only: never personal data
    status: str = PENDING
    attempts: int = 0
    version: int = 1
    last_status: int | None = None  # the receiver's HTTP status on the last try (None: no answer)
    last_error: str | None = None  # "http_<status>", "timeout", "unreachable", "blocked"
    delivered_at: str | None = None
    dead_at: str | None = None
    replays: int = 0

    @property
    def subject_kind(self) -> str:
        return self.subject.partition(":")[0]

    @property
    def subject_id(self) -> str:
        return self.subject.partition(":")[2]

    def public(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "webhook_id": self.webhook_id,
            "event": self.event,
            "subject": self.subject,
            "occurred_at": self.occurred_at,
            "status": self.status,
            "attempts": self.attempts,
            "due_at": self.due_at if self.status == PENDING else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
            "dead_at": self.dead_at,
            "replays": self.replays,
        }


# --- subscriptions ------------------------------------------------------------------------------------------------


def webhook_secret_name(tenant_id: str, webhook_id: str) -> str:
    """The secret store's name of a subscription's signing secret (under the tenant's, so the same grants cover it)."""
    return f"tenants/{tenant_id}/webhooks/{webhook_id}"


def check_url(url: str, *, offline: bool) -> str:
    """The URL as given, or InvalidError: https with a host, no credentials in it; plain http only to loopback and
    only in offline stages (local, test). Whether a name resolves somewhere private is the sender's check (it may
    change after the subscription is made)."""
    if len(url) > MAX_URL:
        raise InvalidError(f"url is at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # a malformed port raises here
    except ValueError as exc:
        raise InvalidError("url is not a valid URL") from exc
    if not host or parts.username or parts.password or parts.fragment:
        raise InvalidError("url needs a host and no user, password or fragment")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and offline and is_loopback(host):
        return url
    raise InvalidError("url must be https (plain http only to 127.0.0.1 or localhost on a local stage)")


def is_loopback(host: str) -> bool:
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_public_address(address: str) -> bool:
    """Whether a resolved address may be called outside offline stages (no SSRF into the VPC, metadata, loopback)."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def check_events(events: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidError(f"unknown event types: {', '.join(unknown)}")
    if not events:
        raise InvalidError("a webhook needs at least one event type")
    return tuple(e for e in EVENTS if e in events)  # canonical order, no repeats


def check_pii(fields: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(fields) - set(PII_FIELDS))
    if unknown:
        raise InvalidError(f"unknown personal-data fields: {', '.join(unknown)}")
    return tuple(f for f in PII_FIELDS if f in fields)


# --- deliveries ---------------------------------------------------------------------------------------------------


def customer_subject(customer_id: str) -> str:
    """A customer's deliveries' subject (what erasure deletes: services/customers.py)."""
    return f"customer:{customer_id}"


def subject_of(signal: s.Signal, subject_id: str) -> str:
    """Who the event is about, as the bus told it: a group's signals name the chat, a confirmed task its staff."""
    if signal.type == s.GROUP_JOINED:
        return f"group:{subject_id}"
    if signal.type == s.TASK_CONFIRMED:
        return f"staff:{subject_id}"
    if signal.type == s.TOUCH_SENT and subject_id.startswith(CHAT_PREFIX):  # a group plan's touch (群发 to a group)
        return f"group:{subject_id}"
    return customer_subject(subject_id)


def signal_identity(signal: s.Signal) -> str:
    """What makes one signal the same as another heard again: its fact's ref when it has one, else its content."""
    if signal.ref:
        return f"ref:{signal.ref}"
    return f"at:{utc_key(signal.at)}|{signal.kind}|{signal.stage}|{signal.plan_id}|{signal.chat_id}"


def delivery_id(tenant_id: str, webhook_id: str, event: str, subject: str, identity: str) -> str:
    """Deterministic: the same signal for the same subscription is always the same delivery (X-Siyu-Delivery)."""
    raw = "\x00".join((tenant_id, webhook_id, event, subject, identity))
    return "wd_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def event_data(signal: s.Signal) -> dict[str, Any]:
    """The event's non-personal fields, by type (the documented schema, docs/webhooks.md)."""
    t = signal.type
    data: dict[str, Any]
    if t == s.ADDED:
        data = {"kind": signal.kind, "channel_id": signal.channel_id, "staff_userid": signal.staff}
    elif t == s.LOST:
        data = {"kind": signal.kind, "staff_userid": signal.staff}
    elif t == s.MERGED:
        data = {"matched_by": signal.kind, "staff_userid": signal.staff}
    elif t == s.STAGE:
        data = {"stage": signal.stage}
    elif t == s.ORDER:
        data = {"kind": signal.kind, "amount": signal.amount, "product": signal.product}
    elif t == s.TOUCH_SENT:
        data = {"plan_id": signal.plan_id, "step_id": signal.kind, "staff_userid": signal.staff}
    elif t == s.TASK_CONFIRMED:
        data = {"task_id": signal.kind}
    elif t == s.GROUP_JOINED:
        data = {"chat_id": signal.chat_id, "scene": signal.kind, "channel_id": signal.channel_id}
    elif t == s.CHECKED_IN:
        data = {"chat_id": signal.chat_id, "day": signal.kind}
    else:
        data = {}
    return {name: value for name, value in data.items() if value is not None}


def seq_of(at: datetime, n: int) -> str:
    """A subject's order key: when it happened (UTC, microseconds), then the order this process heard it in."""
    return f"{utc_key(at)[:-1]}.{at.microsecond:06d}#{n:09d}"


def body_of(delivery: Delivery, *, tenant_id: str, personal: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON body a receiver gets. ``personal``: the opted-in fields as read at send time (omitted if none)."""
    kind, subject_id = delivery.subject_kind, delivery.subject_id
    body: dict[str, Any] = {
        "id": delivery.delivery_id,
        "type": delivery.event,
        "occurred_at": delivery.occurred_at,
        "tenant": tenant_id,
        "subject": {f"{kind if kind != 'group' else 'chat'}_id": subject_id},
        "data": dict(delivery.data),
    }
    if personal:
        body["personal"] = dict(personal)
    return body


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes signed and sent: compact, keys sorted, Chinese kept readable."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def after_failure(delivery: Delivery, *, now: datetime, zone: Any, status: int | None, error: str) -> Delivery:
    """The delivery after a failed try: due again after its backoff, or a dead letter after the last one."""
    attempts = delivery.attempts + 1
    common = dict(attempts=attempts, version=delivery.version + 1, last_status=status, last_error=error)
    if attempts > len(BACKOFF):
        return _replace(delivery, status=DEAD, dead_at=iso_of(now, zone), **common)
    return _replace(delivery, due_at=iso_of(now + BACKOFF[attempts - 1], zone), **common)


def after_success(delivery: Delivery, *, now: datetime, zone: Any, status: int) -> Delivery:
    return _replace(
        delivery,
        status=DELIVERED,
        attempts=delivery.attempts + 1,
        version=delivery.version + 1,
        last_status=status,
        last_error=None,
        delivered_at=iso_of(now, zone),
    )


def replayed(delivery: Delivery, *, now: datetime, zone: Any) -> Delivery:
    """A dead letter sent again from the start of its backoff (its id, and so the receiver's dedupe, unchanged)."""
    return _replace(
        delivery,
        status=PENDING,
        attempts=0,
        due_at=iso_of(now, zone),
        version=delivery.version + 1,
        dead_at=None,
        replays=delivery.replays + 1,
    )


def _replace(delivery: Delivery, **changes: Any) -> Delivery:
    return replace(delivery, **changes)
