"""The WeCom callback endpoint's use cases: URL verification and event delivery for one tenant."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.group_events import GroupEvent, group_event_from_fields, is_group_event
from chalicelib.domain.instants import localize_times
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import CallbackDecryptError, CallbackSignatureError, InvalidError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, TenantRepository
from chalicelib.services.budget import DEFAULT_CALLBACK_BUDGET_SECONDS, Budget
from chalicelib.services.intake import IntakeResult, IntakeService


class GroupEventHandler(Protocol):
    def handle(self, tenant: Tenant, ev: GroupEvent, budget: Budget) -> IntakeResult: ...


class CallbackCodec(Protocol):
    """WXBizMsgCrypt plus the XML envelope: raises CallbackError subclasses on any protocol failure."""

    def verify_url(self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str: ...

    def open(
        self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, body: bytes
    ) -> dict[str, Any]: ...


_T = TypeVar("_T")

# A forced re-read of a tenant (after a signature that its cached secrets do not match) happens at most once per
# this many seconds per tenant in one container. A caller sending bad signatures as fast as it can then costs one
# strongly consistent read (1 RCU) a second per warm container, not one per request; the price is that a secret
# rotated within this second after the container's last read can fail once, and a retry succeeds.
REFRESH_FLOOR_SECONDS = 1.0


class TenantCache:
    """Tenants change rarely and every callback and business event needs one: keep them in memory for ``ttl``
    seconds. A missing tenant is not cached (a tenant created a moment ago answers at once), and not kept either,
    so requests for made-up tenant ids cannot grow the cache."""

    def __init__(
        self,
        repo: TenantRepository,
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_floor: float = REFRESH_FLOOR_SECONDS,
    ) -> None:
        self.repo = repo
        self.ttl = ttl
        self.monotonic = monotonic
        self.refresh_floor = refresh_floor
        self._cache: dict[str, tuple[float, Tenant]] = {}

    def get(self, tenant_id: str) -> Tenant | None:
        hit = self._cache.get(tenant_id)
        if hit is not None and self.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return self._read(tenant_id, consistent=False)

    def refresh(self, tenant_id: str) -> Tenant | None:
        """The tenant re-read past the cache (strongly consistent: a rotation a moment ago must show), unless this
        container read it less than ``refresh_floor`` seconds ago; then the cached copy, which is that fresh."""
        hit = self._cache.get(tenant_id)
        if hit is not None and self.monotonic() - hit[0] < self.refresh_floor:
            return hit[1]
        return self._read(tenant_id, consistent=True)

    def localize(self, tenant_id: str, body: Any) -> Any:
        """``body`` (a JSON response) with every instant in the tenant's timezone (domain/instants.localize_times); as
        it is if the tenant does not exist."""
        tenant = self.get(tenant_id)
        return body if tenant is None else localize_times(body, tenant.zone)

    def forget(self, tenant_id: str) -> None:
        """Drop the cached copy: this container changed the tenant and must not serve the old one."""
        self._cache.pop(tenant_id, None)

    def _read(self, tenant_id: str, *, consistent: bool) -> Tenant | None:
        now = self.monotonic()
        tenant = self.repo.get_tenant(tenant_id, consistent=consistent)
        if tenant is None:
            self._cache.pop(tenant_id, None)
        else:
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
    def __init__(
        self,
        tenants: TenantCache,
        codec: CallbackCodec,
        intake: IntakeService,
        clock: Clock,
        *,
        budget_seconds: float = DEFAULT_CALLBACK_BUDGET_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        groups: GroupEventHandler | None = None,
    ) -> None:
        self.tenants = tenants
        self.codec = codec
        self.intake = intake
        self.groups = groups  # change_external_chat (services/groups); None: intake records it as ignored
        self.clock = clock  # measures the grace period of a replaced Token/key
        self.budget_seconds = budget_seconds  # WeCom waits 5 s for the answer: a callback spends at most this
        self.monotonic = monotonic

    def _tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def verify_url(self, tenant_id: str, params: dict[str, str]) -> str:
        """GET: prove we own the URL by decrypting echostr (the reply is the bare plaintext)."""
        sig, ts, nonce, echostr = _required(params, "msg_signature", "timestamp", "nonce", "echostr")
        _, plain = self._open(
            tenant_id,
            lambda tenant: self.codec.verify_url(tenant, msg_signature=sig, timestamp=ts, nonce=nonce, echostr=echostr),
        )
        return plain

    def receive(self, tenant_id: str, params: dict[str, str], body: bytes) -> IntakeResult:
        """POST: authenticate, decrypt and parse the event, then apply it (idempotently). An unknown tenant is
        answered exactly as a real one whose signature fails (401), never 404: tenant ids are not enumerable."""
        budget = Budget(self.budget_seconds, self.monotonic)  # from the callback's arrival: decrypting counts too
        sig, ts, nonce = _required(params, "msg_signature", "timestamp", "nonce")
        tenant, fields = self._open(
            tenant_id, lambda t: self.codec.open(t, msg_signature=sig, timestamp=ts, nonce=nonce, body=body)
        )
        if self.groups is not None and is_group_event(fields):
            result = self.groups.handle(tenant, group_event_from_fields(fields), budget)
            logger.debug("group callback handled", extra={"tenant": tenant_id, "outcome": result.outcome})
            return result
        result = self.intake.handle(tenant, event_from_fields(fields), budget)
        count(f"ContactEvent.{result.outcome}")
        logger.debug("callback handled", extra={"tenant": tenant_id, "outcome": result.outcome})
        return result

    def _open(self, tenant_id: str, call: Callable[[Tenant], _T]) -> tuple[Tenant, _T]:
        """The tenant and ``call``'s result with the first callback config that fits the request's signature and
        encryption: the cached tenant's Token/key; during a rotation's grace period the pair they replaced (WeCom
        signs with it until the new pair is saved in its console); then, once, the tenant re-read past the cache
        (bounded by TenantCache.refresh) and its previous pair, so a rotated Token/key works at once, including
        the GET that verifies the URL when the console is saved. Nothing fits: the first error."""
        tenant = self._tenant(tenant_id)
        if tenant is None:
            call(_stand_in())  # fails where a real tenant's bad signature does, after the same work
            raise CallbackSignatureError("msg_signature does not match")
        now = self.clock.now().timestamp()
        try:
            return tenant, call(tenant)
        except (CallbackSignatureError, CallbackDecryptError) as exc:
            first = exc
        tried = {(tenant.wecom_token, tenant.wecom_aes_key)}
        for current, config in self._fallbacks(tenant, now):
            if config is None or (config.wecom_token, config.wecom_aes_key) in tried:
                continue
            tried.add((config.wecom_token, config.wecom_aes_key))
            try:
                return current, call(config)
            except (CallbackSignatureError, CallbackDecryptError):
                continue
        raise first

    def _fallbacks(self, cached: Tenant, now: float) -> Iterator[tuple[Tenant, Tenant | None]]:
        """(tenant, callback config to try) after the cached config failed; the re-read happens only if the cached
        tenant's previous pair fails too."""
        yield cached, cached.previous_callback_config(now)
        fresh = self.tenants.refresh(cached.tenant_id)
        if fresh is not None:
            yield fresh, fresh
            yield fresh, fresh.previous_callback_config(now)
