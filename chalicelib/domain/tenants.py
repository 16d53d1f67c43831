"""Tenants (机构), their access tokens and roles. Pure: no clock, environment or AWS."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from chalicelib.domain.instants import iso_local, localize_times
from chalicelib.errors import InvalidError

TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")
CORP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
WECOM_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
DEFAULT_TIMEZONE = "Asia/Shanghai"
# How long a replaced events secret keeps signing: long enough for a sender to deploy the new one without failures,
# short enough that a leaked secret, once rotated, is dead within minutes.
EVENTS_SECRET_GRACE_SECONDS = 600
# How long a replaced WeCom callback Token/EncodingAESKey still opens callbacks: the time an admin has, after setting
# the new pair in Siyu, to save it in the WeCom console (WeCom signs with the old pair until then).
WECOM_CALLBACK_GRACE_SECONDS = 600
# A token's last use is recorded at most once per this many seconds: "used today / this hour" is what an admin
# cleaning up tokens needs, and a busy token then costs one write an hour, not one per request.
TOKEN_USE_RESOLUTION_SECONDS = 3600


class Role(StrEnum):
    """Roles of a tenant token, strongest first. ``admin`` manages tokens and staff, ``ops`` designs channels
    and tags, ``staff`` works its own customers, ``viewer`` only reads."""

    ADMIN = "admin"
    OPS = "ops"
    STAFF = "staff"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return {"admin": 3, "ops": 2, "staff": 1, "viewer": 0}[self.value]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class Tenant:
    """One institution's WeCom corp. ``salt`` keys the HMACs that keep identifiers out of our keys."""

    tenant_id: str
    name: str
    corp_id: str
    timezone: str
    wecom_token: str
    wecom_aes_key: str
    wecom_secret: str
    salt: str
    created_at: str
    events_secret: str = ""  # HMAC key of POST /t/{tenant}/events; "" until created or rotated
    reply_positive: tuple[str, ...] = ()  # reply keywords overriding domain/replies.py's defaults when non-empty
    reply_negative: tuple[str, ...] = ()
    touch_rules: str = ""  # the tenant's touch rules as canonical JSON (domain/touch_rules.py); "" = the defaults
    previous_events_secret: str = ""  # the secret before the last rotation, valid until ``previous_events_until``
    previous_events_until: int = 0  # unix seconds; 0 = no previous secret
    previous_wecom_token: str = ""  # the callback Token and EncodingAESKey before the last change of either,
    previous_wecom_aes_key: str = ""  # accepted until ``previous_wecom_until`` (unix seconds)
    previous_wecom_until: int = 0
    agent_id: int = 0  # the self-built app's AgentId (staff sign-in, alerts, the chat sidebar); 0 = not configured

    def __post_init__(self) -> None:
        # Stored as JSON lists; keep them tuples so tenants stay hashable and compare equal after a round trip.
        object.__setattr__(self, "reply_positive", tuple(self.reply_positive))
        object.__setattr__(self, "reply_negative", tuple(self.reply_negative))

    def public(self) -> dict[str, object]:
        """The tenant as the API shows it: never a secret; its times in its own (current) zone."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "corp_id": self.corp_id,
            "timezone": self.timezone,
            "agent_id": self.agent_id or None,
            "created_at": localize_times(self.created_at, self.zone),
        }

    def with_wecom(self, *, token: str, aes_key: str, secret: str, now: float) -> Tenant:
        """The tenant with new WeCom settings. A changed callback Token or EncodingAESKey leaves the old pair valid
        for the grace period: WeCom keeps signing with it until an admin saves the new pair in its console."""
        if (token, aes_key) == (self.wecom_token, self.wecom_aes_key):
            return replace(self, wecom_secret=secret)
        return replace(
            self,
            wecom_token=token,
            wecom_aes_key=aes_key,
            wecom_secret=secret,
            previous_wecom_token=self.wecom_token,
            previous_wecom_aes_key=self.wecom_aes_key,
            previous_wecom_until=int(now) + WECOM_CALLBACK_GRACE_SECONDS,
        )

    def previous_callback_config(self, now: float) -> Tenant | None:
        """The tenant with the callback Token/key it had before their last change, while their grace lasts."""
        if not self.previous_wecom_token or now >= self.previous_wecom_until:
            return None
        return replace(self, wecom_token=self.previous_wecom_token, wecom_aes_key=self.previous_wecom_aes_key)

    def events_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets that sign business events at ``now`` (unix seconds): the current one, and the one it replaced
        while its grace period lasts."""
        current = (self.events_secret,) if self.events_secret else ()
        if self.previous_events_secret and now < self.previous_events_until:
            return (*current, self.previous_events_secret)
        return current

    def rotate_events_secret(self, new_secret: str, now: float) -> Tenant:
        """The tenant with ``new_secret`` current and the old one valid for the grace period. Rotating again
        within the grace period retires the older secret at once (only one previous secret is kept)."""
        return replace(
            self,
            events_secret=new_secret,
            previous_events_secret=self.events_secret,
            previous_events_until=int(now) + EVENTS_SECRET_GRACE_SECONDS if self.events_secret else 0,
        )

    def secret_fields(self) -> dict[str, str]:
        """The credentials kept apart from the table (SSM SecureString when deployed: docs/deploy.md, "Secrets")."""
        return {name: getattr(self, name) for name in SECRET_FIELDS}

    def without_secrets(self) -> Tenant:
        """The tenant as its table item holds it once its secrets live in the secret store."""
        blank: dict[str, Any] = dict.fromkeys(SECRET_FIELDS, "")
        return replace(self, **blank)

    def with_secrets(self, values: dict[str, str]) -> Tenant:
        """The tenant with the credentials the secret store returned (unknown names are ignored)."""
        given: dict[str, Any] = {name: str(values.get(name, "")) for name in SECRET_FIELDS}
        return replace(self, **given)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hmac_hex(self, value: str, *, length: int = 32) -> str:
        """A keyed, tenant-scoped digest: lets keys find a record without storing the identifier itself."""
        return hmac.new(self.salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:length]


# The tenant's credentials: what opens its callbacks, signs its events and calls WeCom for it. Its salt stays in the
# table: it keys the digests in the table's own keys and is no credential for any outside system.
SECRET_FIELDS = (
    "wecom_token",
    "wecom_aes_key",
    "wecom_secret",
    "events_secret",
    "previous_events_secret",
    "previous_wecom_token",
    "previous_wecom_aes_key",
)

ADMIN_TOKEN_SECRET = "admin-token"  # the secret store's name of the platform admin's token


def tenant_secret_name(tenant_id: str) -> str:
    """The secret store's name of a tenant's credentials: one JSON bundle of SECRET_FIELDS per tenant."""
    return f"tenants/{tenant_id}"


@dataclass(frozen=True)
class TokenRecord:
    """A tenant API token as stored: only the hash, never the token."""

    tenant_id: str
    token_hash: str
    token_id: str
    role: Role
    staff_userid: str | None
    created_at: str
    label: str = ""
    last_used: int = 0  # unix seconds of the last recorded use, to TOKEN_USE_RESOLUTION_SECONDS; 0 = never

    def public(self, zone: ZoneInfo) -> dict[str, object]:
        """The token as the admin API lists it (never the token or its hash), times in ``zone``."""
        return {
            "token_id": self.token_id,
            "role": self.role.value,
            "staff_userid": self.staff_userid,
            "label": self.label,
            "created_at": localize_times(self.created_at, zone),
            "last_used_at": iso_local(self.last_used, zone) if self.last_used else None,
        }

    def use_is_due(self, now: float) -> bool:
        """Whether a use at ``now`` should be recorded (the last one recorded is a resolution period old)."""
        return now - self.last_used >= TOKEN_USE_RESOLUTION_SECONDS


def hash_token(token: str) -> str:
    """Tokens are high-entropy random strings, so a plain SHA-256 is the right storage hash (no KDF needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID_RE.match(tenant_id):
        raise InvalidError("tenant_id must be 3-32 chars of a-z, 0-9 and '-', starting and ending alphanumeric")
    return tenant_id


AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")


def check_wecom_config(token: str, encoding_aes_key: str, secret: str) -> None:
    """WeCom's callback config rules: Token ≤ 32 letters/digits, EncodingAESKey exactly 43 of [A-Za-z0-9]."""
    if not WECOM_TOKEN_RE.match(token or ""):
        raise InvalidError("wecom.token must be 1-32 letters or digits")
    if not AES_KEY_RE.match(encoding_aes_key or ""):
        raise InvalidError("wecom.encoding_aes_key must be exactly 43 letters or digits")
    if not secret or len(secret) > 256:
        raise InvalidError("wecom.secret is required")


def token_tenant(token: str) -> str | None:
    """Tenant tokens read ``sy_<tenant>_<secret>``; the tenant part lets a wrong-tenant token get a clear 403."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "sy" else None


def check_timezone(name: str) -> str:
    """An IANA zone name. ZoneInfo alone also loads files of the zone directory that are no zone names: the host's
    ``localtime``, ``posixrules``, ``Factory`` (always "-00") and the ``posix/`` and ``right/`` (leap-second) copies."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidError(f"unknown timezone {name!r}; use an IANA name such as Asia/Shanghai") from exc
    if name not in _zone_names():
        raise InvalidError(f"timezone {name!r} is not an IANA zone name; use one such as Asia/Shanghai")
    return name


@cache
def _zone_names() -> frozenset[str]:
    """The IANA names the host's tz database offers (read once: it walks the zone directory)."""
    names = available_timezones() - {"localtime", "posixrules", "Factory"}
    return frozenset(n for n in names if not n.startswith(("posix/", "right/")))
