"""The WeCom callback endpoint's use cases: URL verification and event delivery for one tenant."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain.events import event_from_fields
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
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


class CallbackService:
    def __init__(self, tenants: TenantCache, codec: CallbackCodec, intake: IntakeService) -> None:
        self.tenants = tenants
        self.codec = codec
        self.intake = intake

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

    def verify_url(self, tenant_id: str, params: dict[str, str]) -> str:
        """GET: prove we own the URL by decrypting echostr (the reply is the bare plaintext)."""
        tenant = self._tenant(tenant_id)
        sig, ts, nonce, echostr = _required(params, "msg_signature", "timestamp", "nonce", "echostr")
        return self.codec.verify_url(tenant, msg_signature=sig, timestamp=ts, nonce=nonce, echostr=echostr)

    def receive(self, tenant_id: str, params: dict[str, str], body: bytes) -> IntakeResult:
        """POST: authenticate, decrypt and parse the event, then apply it (idempotently)."""
        tenant = self._tenant(tenant_id)
        sig, ts, nonce = _required(params, "msg_signature", "timestamp", "nonce")
        fields = self.codec.open(tenant, msg_signature=sig, timestamp=ts, nonce=nonce, body=body)
        result = self.intake.handle(tenant, event_from_fields(fields))
        count(f"ContactEvent.{result.outcome}")
        logger.debug("callback handled", extra={"tenant": tenant_id, "outcome": result.outcome})
        return result
