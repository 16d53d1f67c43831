"""Business events (orders, replies, check-ins, shares, exposure, custom): signing, identity and their effect on a
customer. Pure: the caller passes the current time in; nothing here reads the clock, the environment or storage.

Signing scheme (documented in the README): ``X-Siyu-Signature: sha256=<hex>`` where ``<hex>`` is
HMAC-SHA256(tenant events secret, ``<X-Siyu-Timestamp>`` + ``"."`` + raw request body bytes). The timestamp is unix
seconds and must be within ``REPLAY_WINDOW_SECONDS`` of the server's clock, so a captured request cannot be replayed
later; within the window the event ids make a replay a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.customers import Customer, Stage, can_transition, transition
from chalicelib.domain.replies import DEFAULT_NEGATIVE, DEFAULT_POSITIVE, NEGATIVE, POSITIVE
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import UnauthorizedError

REPLAY_WINDOW_SECONDS = 300
SIGNATURE_SCHEME = "sha256="
MAX_EVENT_ID = 128

ORDER, MESSAGE, CHECKIN, SHARE, EXPOSURE, CUSTOM = "order", "message", "checkin", "share", "exposure", "custom"
EVENT_TYPES = (ORDER, MESSAGE, CHECKIN, SHARE, EXPOSURE, CUSTOM)
CUSTOMER_EVENT_TYPES = frozenset({ORDER, MESSAGE, CHECKIN, SHARE, CUSTOM})


_TIMESTAMP_RE = re.compile(r"^\d{1,12}$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
# Stages a positive reply may lift to hot: a trial or paying customer asking "多少钱" stays trial/converted (the
# funnel never moves backwards), a lost one stays lost (no relation to follow up on).
_WARMABLE = frozenset({Stage.NEW, Stage.NURTURING, Stage.SILENT})
_ORDER_RANK = {Stage.TRIAL: 1, Stage.CONVERTED: 2}


# --- signing ------------------------------------------------------------------------------------------------------


def signing_input(timestamp: str, body: bytes) -> bytes:
    """The exact bytes that are signed: the timestamp header, a dot, the raw body."""
    return timestamp.encode("ascii") + b"." + body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Siyu-Signature`` value a sender puts on ``body`` sent at ``timestamp`` (unix seconds, as a string)."""
    return SIGNATURE_SCHEME + hmac.new(secret.encode(), signing_input(timestamp, body), hashlib.sha256).hexdigest()


def check_signed_headers(
    timestamp: str | None, signature: str | None, *, now: float, window: int = REPLAY_WINDOW_SECONDS
) -> tuple[str, str]:
    """The timestamp and the normalised ``sha256=<hex>`` signature, or UnauthorizedError when either is missing,
    malformed or the timestamp is more than ``window`` seconds from ``now``. Checks only the form: whether it
    signs the body is ``signature_matches``."""
    if not timestamp or not signature:
        raise UnauthorizedError("missing X-Siyu-Timestamp or X-Siyu-Signature header", code="bad_signature")
    ts = timestamp.strip()
    if not _TIMESTAMP_RE.match(ts):
        raise UnauthorizedError("X-Siyu-Timestamp must be unix seconds", code="bad_signature")
    if abs(now - int(ts)) > window:
        raise UnauthorizedError(
            f"X-Siyu-Timestamp is more than {window} s away from the server clock", code="stale_timestamp"
        )
    scheme, _, digest = signature.strip().partition("=")
    if scheme + "=" != SIGNATURE_SCHEME or not _HEX_RE.match(digest.lower()):
        raise UnauthorizedError("X-Siyu-Signature must be sha256=<64 hex digits>", code="bad_signature")
    return ts, SIGNATURE_SCHEME + digest.lower()


def signature_matches(secrets: tuple[str, ...], timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (as ``check_signed_headers`` returned it) signs ``body`` at ``timestamp`` with any of
    ``secrets``. Every secret is tried, in constant time each, so the answer's timing says nothing about which."""
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())
    return matched


def events_disabled() -> UnauthorizedError:
    return UnauthorizedError(
        "business events are not enabled for this tenant: rotate its events secret first", code="events_disabled"
    )


def bad_signature() -> UnauthorizedError:
    return UnauthorizedError("the signature does not match the body and timestamp", code="bad_signature")


def verify_signature(
    secret: str | tuple[str, ...],
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window: int = REPLAY_WINDOW_SECONDS,
) -> None:
    """Raise UnauthorizedError unless ``signature`` signs ``body`` with ``secret`` (or one of several, during a
    rotation's grace period) at a timestamp within ``window`` seconds of ``now``. The digest comparison is
    constant-time; the messages say what to fix, never the secret."""
    secrets = (secret,) if isinstance(secret, str) else secret
    secrets = tuple(s for s in secrets if s)
    if not secrets:
        raise events_disabled()
    ts, normalised = check_signed_headers(timestamp, signature, now=now, window=window)
    if not signature_matches(secrets, ts, body, normalised):
        raise bad_signature()


# --- the events themselves ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessEvent:
    """One validated event. ``data`` holds the type's own fields (kind, amount, text, uv, name…)."""

    index: int
    event_id: str
    type: str
    occurred_at: datetime
    customer_id: str | None = None
    external_userid: str | None = None
    data: dict[str, Any] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        return self.data or {}


_ENVELOPE = ("event_id", "type", "occurred_at", "customer_id", "external_userid")


def parse_occurred_at(value: str) -> datetime | None:
    """An ISO-8601 instant that carries its offset; None when it does not parse or has no offset."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def event_errors(item: dict[str, Any], prefix: str, now: datetime, window: int) -> list[dict[str, str]]:
    """What a schema cannot say about one event object: who it is about (exactly one of customer_id and
    external_userid; none for exposure) and when (a real instant with an offset, from 1970 and not further ahead
    than ``window`` seconds of ``now``). ``prefix`` is the event's JSON pointer in the body."""
    errors: list[dict[str, str]] = []
    given = [n for n in ("customer_id", "external_userid") if n in item]
    if item.get("type") == EXPOSURE:
        errors += [{"path": f"{prefix}/{n}", "message": "an exposure event is about no customer"} for n in given]
    elif len(given) != 1:
        errors.append({"path": prefix or "/", "message": "give exactly one of customer_id and external_userid"})
    value = item.get("occurred_at")
    if isinstance(value, str):
        at = parse_occurred_at(value)
        if at is None:
            errors.append({"path": f"{prefix}/occurred_at", "message": "is not an ISO-8601 time with an offset"})
        elif (at - now).total_seconds() > window:
            errors.append({"path": f"{prefix}/occurred_at", "message": "is in the future"})
        elif at.timestamp() < 0:  # also keeps every later conversion (local day, UTC key) inside datetime's range
            errors.append({"path": f"{prefix}/occurred_at", "message": "is before 1970"})
    return errors


def parse_event(item: dict[str, Any], index: int) -> BusinessEvent:
    """A valid event object (schema and ``event_errors`` passed) as a BusinessEvent."""
    at = parse_occurred_at(item["occurred_at"])
    assert at is not None  # checked by event_errors
    return BusinessEvent(
        index=index,
        event_id=item["event_id"],
        type=item["type"],
        occurred_at=at,
        customer_id=item.get("customer_id"),
        external_userid=item.get("external_userid"),
        data={k: v for k, v in item.items() if k not in _ENVELOPE},
    )


def event_digest(tenant: Tenant, event_id: str) -> str:
    """The event's dedupe key: tenant-keyed, so a client's ids (often order numbers) never appear in our keys."""
    return tenant.hmac_hex("event:" + event_id)


# --- replies (classification itself is domain/replies.py) -----------------------------------------------------


def reply_rules(tenant: Tenant) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tenant's keyword lists, each falling back to the defaults when the tenant has not set its own."""
    return tenant.reply_positive or DEFAULT_POSITIVE, tenant.reply_negative or DEFAULT_NEGATIVE


# --- effects on the customer --------------------------------------------------------------------------------------


def order_stage(current: Stage, kind: str) -> Stage:
    """Trial → ``trial``, full → ``converted``; never backwards (a converted customer's later trial keeps it
    converted) and never out of ``lost`` (the relation is gone; ``apply_order`` moves the stage a re-add restores)."""
    target = Stage.CONVERTED if kind == "full" else Stage.TRIAL
    if _ORDER_RANK.get(current, 0) >= _ORDER_RANK[target] or not can_transition(current, target):
        return current
    return transition(current, target)


def apply_order(c: Customer, *, kind: str, now: str) -> Customer:
    """The customer after an order; the same object when nothing changes (then only the fact is written)."""
    if c.stage == Stage.LOST:
        before = c.stage_before_lost or Stage.NEW
        restored = order_stage(before, kind)
        if restored == before:
            return c
        return replace(c, stage_before_lost=restored, updated_at=now, version=c.version + 1)
    stage = order_stage(c.stage, kind)
    if stage == c.stage:
        return c
    return replace(c, stage=stage, updated_at=now, version=c.version + 1)


def apply_reply(c: Customer, *, reply: str | None, at: str, at_time: datetime, now: str) -> Customer:
    """The customer after an inbound message: last inbound time (never moved back by a late event), hot on a
    positive reply, marketing suppressed on a negative one (kept until changed on purpose, not by a later reply)."""
    last = c.last_inbound_at
    newer = last is None or datetime.fromisoformat(last) < at_time
    stage = c.stage
    if reply == POSITIVE and c.stage in _WARMABLE and can_transition(c.stage, Stage.HOT):
        stage = transition(c.stage, Stage.HOT)
    return replace(
        c,
        stage=stage,
        last_inbound_at=at if newer else last,
        suppress_marketing=c.suppress_marketing or reply == NEGATIVE,
        updated_at=now,
        version=c.version + 1,
    )
