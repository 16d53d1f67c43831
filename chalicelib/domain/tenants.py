"""Tenants (机构), their access tokens and roles. Pure: no clock, environment or AWS."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import InvalidError

TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")
CORP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
WECOM_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
DEFAULT_TIMEZONE = "Asia/Shanghai"


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

    def __post_init__(self) -> None:
        # Stored as JSON lists; keep them tuples so tenants stay hashable and compare equal after a round trip.
        object.__setattr__(self, "reply_positive", tuple(self.reply_positive))
        object.__setattr__(self, "reply_negative", tuple(self.reply_negative))

    def public(self) -> dict[str, str]:
        """The tenant as the API shows it: never a secret."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "corp_id": self.corp_id,
            "timezone": self.timezone,
            "created_at": self.created_at,
        }

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hmac_hex(self, value: str, *, length: int = 32) -> str:
        """A keyed, tenant-scoped digest: lets keys find a record without storing the identifier itself."""
        return hmac.new(self.salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:length]


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

    def public(self) -> dict[str, object]:
        return {
            "token_id": self.token_id,
            "role": self.role.value,
            "staff_userid": self.staff_userid,
            "label": self.label,
            "created_at": self.created_at,
        }


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
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidError(f"unknown timezone {name!r}; use an IANA name such as Asia/Shanghai") from exc
    return name
