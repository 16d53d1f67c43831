"""The WeCom callback endpoint's use cases: URL verification and event delivery for one tenant."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain.events import event_from_fields
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import CallbackSignatureError, InvalidError
from chalicelib.observability import count, logger
from chalicelib.ports import TenantRepository
from chalicelib.services.intake import IntakeResult, IntakeService


class CallbackCodec(Protocol):
    """WXBizMsgCrypt plus the XML envelope: raises CallbackError subclasses on any protocol failure."""

    def verify_url(self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str: ...

    def open(
        self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, body: bytes
    ) -> dict[str, Any]: ...


class TenantCache:
    """Tenants change rarely and every callback needs one: keep them in memory for ``ttl`` seconds."""

    def __init__(self, repo: TenantRepository, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self.ttl = ttl
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, Tenant | None]] = {}

    def get(self, tenant_id: str) -> Tenant | None:
        now = self.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and now - hit[0] < self.ttl and hit[1] is not None:
            return hit[1]
        tenant = self.repo.get_tenant(tenant_id)
        self._cache[tenant_id] = (now, tenant)
        return tenant


def _required(params: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise InvalidError(f"missing query parameters: {', '.join(missing)}")
    return [params[n] for n in names]


def _stand_in() -> Tenant:
    """A tenant no one holds the keys of: an unknown tenant id goes through the very checks a real tenant's
    callback does and fails its signature, so the answer never tells whether the tenant exists."""
    alphabet = string.ascii_letters + string.digits
    return Tenant(
        tenant_id="",
        name="",
        corp_id="",
        timezone="UTC",
        wecom_token=secrets.token_hex(16),
        wecom_aes_key="".join(secrets.choice(alphabet) for _ in range(43)),
        wecom_secret="",
        salt=secrets.token_hex(16),
        created_at="",
    )


class CallbackService:
    def __init__(self, tenants: TenantCache, codec: CallbackCodec, intake: IntakeService) -> None:
        self.tenants = tenants
        self.codec = codec
        self.intake = intake

    def _tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def verify_url(self, tenant_id: str, params: dict[str, str]) -> str:
        """GET: prove we own the URL by decrypting echostr (the reply is the bare plaintext)."""
        sig, ts, nonce, echostr = _required(params, "msg_signature", "timestamp", "nonce", "echostr")
        tenant = self._tenant(tenant_id)
        plain = self.codec.verify_url(
            tenant or _stand_in(), msg_signature=sig, timestamp=ts, nonce=nonce, echostr=echostr
        )
        if tenant is None:
            raise CallbackSignatureError("msg_signature does not match")
        return plain

    def receive(self, tenant_id: str, params: dict[str, str], body: bytes) -> IntakeResult:
        """POST: authenticate, decrypt and parse the event, then apply it (idempotently). An unknown tenant is
        answered exactly as a real one whose signature fails (401), never 404: tenant ids are not enumerable."""
        sig, ts, nonce = _required(params, "msg_signature", "timestamp", "nonce")
        tenant = self._tenant(tenant_id)
        fields = self.codec.open(tenant or _stand_in(), msg_signature=sig, timestamp=ts, nonce=nonce, body=body)
        if tenant is None:
            raise CallbackSignatureError("msg_signature does not match")
        result = self.intake.handle(tenant, event_from_fields(fields))
        count(f"ContactEvent.{result.outcome}")
        logger.debug("callback handled", extra={"tenant": tenant_id, "outcome": result.outcome})
        return result
