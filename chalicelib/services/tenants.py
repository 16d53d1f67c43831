"""Tenants, their tokens, and who may do what. Tokens are stored hashed; secrets are never returned."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.instants import iso_of
from chalicelib.domain.tags import DEFAULT_TAXONOMY, Tag, TagGroup
from chalicelib.domain.tenants import (
    ADMIN_TOKEN_SECRET,
    DEFAULT_TIMEZONE,
    TOKEN_USE_RESOLUTION_SECONDS,
    Role,
    Tenant,
    TokenRecord,
    check_tenant_id,
    check_timezone,
    check_wecom_config,
    hash_token,
    token_tenant,
)
from chalicelib.domain.touch_rules import rules_from_json, rules_from_text, rules_problems, rules_text, rules_to_json
from chalicelib.errors import ForbiddenError, InvalidError, NotFoundError, SiyuError, UnauthorizedError
from chalicelib.observability import logger
from chalicelib.ports import Clock, IdGenerator, Page, SecretStore, StaffRepository, TagRepository, TenantRepository


class TenantRepo(TenantRepository, TagRepository, StaffRepository, Protocol):
    """What tenant administration needs from storage."""


class CachedTenants(Protocol):
    def forget(self, tenant_id: str) -> None: ...


class TenantService:
    def __init__(
        self,
        repo: TenantRepo,
        clock: Clock,
        ids: IdGenerator,
        *,
        cache: CachedTenants | None = None,
        on_created: Sequence[Callable[[Tenant], object]] = (),
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids
        self.cache = cache  # this container's tenant cache, dropped on every change made here
        self.on_created = tuple(on_created)  # what a newly connected tenant starts: the first group and contact syncs

    def _save(self, tenant: Tenant) -> None:
        self.repo.put_tenant(tenant)
        if self.cache is not None:
            self.cache.forget(tenant.tenant_id)

    def create(
        self, *, tenant_id: str, name: str, corp_id: str, wecom: dict[str, Any], timezone: str = DEFAULT_TIMEZONE
    ) -> Tenant:
        """A new tenant with the field's default tag taxonomy (mirrored to WeCom when first used)."""
        check_tenant_id(tenant_id)
        check_timezone(timezone)
        check_wecom_config(wecom.get("token", ""), wecom.get("encoding_aes_key", ""), wecom.get("secret", ""))
        now = iso_of(self.clock.now(), ZoneInfo(timezone))
        tenant = Tenant(
            tenant_id=tenant_id,
            name=name,
            corp_id=corp_id,
            timezone=timezone,
            wecom_token=wecom["token"],
            wecom_aes_key=wecom["encoding_aes_key"],
            wecom_secret=wecom["secret"],
            salt=self.ids.secret(24),
            created_at=now,
            events_secret=self.ids.secret(32),
            agent_id=int(wecom.get("agent_id") or 0),
        )
        self.repo.create_tenant(tenant)
        for group_name, exclusive, tag_names in DEFAULT_TAXONOMY:
            group = TagGroup(
                group_id=self.ids.new_id("tg_"),
                name=group_name,
                exclusive=exclusive,
                tags=tuple(Tag(self.ids.new_id("t_"), n) for n in tag_names),
                created_at=now,
            )
            self.repo.put_tag_group(tenant_id, group)
        for start in self.on_created:  # each on its own: one that cannot start never keeps the others from starting
            try:
                start(tenant)
            except SiyuError as exc:  # the tenant stands; the backstop (or the ops' start) begins it all the same
                logger.warning("first sync not started", extra={"tenant": tenant_id, "code": exc.code})
        return tenant

    def get(self, tenant_id: str) -> Tenant:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

    def find(self, *, cursor: str | None, limit: int) -> Page:
        return self.repo.list_tenants(cursor=cursor, limit=limit)

    def update(self, tenant_id: str, data: dict[str, Any]) -> Tenant:
        """Rename, move timezone, rotate the WeCom callback config/secret or the business-events secret, set reply
        keywords (an empty list restores that list's defaults). Other warm Lambdas pick changes up within the tenant
        cache's TTL, except that a new events secret or WeCom token/key works at once (a signature the cached tenant
        does not match re-reads it) and a rotated events secret keeps working for its grace period."""
        tenant = self.get(tenant_id)
        changes: dict[str, Any] = {}
        if "name" in data:
            changes["name"] = data["name"]
        if "timezone" in data:
            changes["timezone"] = check_timezone(data["timezone"])
        if "wecom" in data:
            wecom = {
                "token": tenant.wecom_token,
                "encoding_aes_key": tenant.wecom_aes_key,
                "secret": tenant.wecom_secret,
                **data["wecom"],
            }
            check_wecom_config(wecom["token"], wecom["encoding_aes_key"], wecom["secret"])
            if "agent_id" in data["wecom"]:
                tenant = replace(tenant, agent_id=int(data["wecom"]["agent_id"]))
            tenant = tenant.with_wecom(
                token=wecom["token"],
                aes_key=wecom["encoding_aes_key"],
                secret=wecom["secret"],
                now=self.clock.now().timestamp(),
            )
        if data.get("rotate_events_secret"):
            tenant = tenant.rotate_events_secret(self.ids.secret(32), self.clock.now().timestamp())
        if "reply_keywords" in data:
            rules = data["reply_keywords"]
            positive, negative = (
                rules.get("positive", tenant.reply_positive),
                rules.get("negative", tenant.reply_negative),
            )
            changes.update(reply_positive=tuple(positive), reply_negative=tuple(negative))
        updated = replace(tenant, **changes)
        self._save(updated)
        return updated

    def touch_rules(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's touch rules as the settings API shows them (every field, defaults filled in)."""
        return rules_to_json(rules_from_text(self.get(tenant_id).touch_rules))

    def set_touch_rules(self, tenant_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace the tenant's touch rules (fields left out take their defaults). Rules that would never let some
        content type out are refused, naming each such type. Running Lambdas apply them within the tenant cache's
        TTL; touches already queued keep their due time and are re-checked against the new rules when they fire."""
        tenant = self.get(tenant_id)
        rules = rules_from_json(doc)
        problems = rules_problems(rules, tenant.zone)
        if problems:
            kinds = ", ".join(p["message"].split(" ", 1)[0] for p in problems)
            raise InvalidError(f"these rules would never let {kinds} touches out", details=problems)
        self._save(replace(tenant, touch_rules=rules_text(rules)))
        return rules_to_json(rules)

    def issue_token(
        self, tenant_id: str, *, role: str, staff_userid: str | None = None, label: str = ""
    ) -> tuple[str, dict[str, Any]]:
        """A new tenant token, returned once, and its public view. A staff token must name an existing staff
        member."""
        tenant = self.get(tenant_id)
        try:
            parsed = Role(role)
        except ValueError as exc:
            raise InvalidError("role must be one of admin, ops, staff, viewer") from exc
        if parsed == Role.STAFF and not staff_userid:
            raise InvalidError("a staff token needs staff_userid")
        if staff_userid and self.repo.get_staff(tenant_id, staff_userid) is None:
            raise InvalidError(f"staff {staff_userid} does not exist")
        token = f"sy_{tenant_id}_{self.ids.secret(32)}"
        record = TokenRecord(
            tenant_id=tenant_id,
            token_hash=hash_token(token),
            token_id=self.ids.new_id("tk_"),
            role=parsed,
            staff_userid=staff_userid,
            label=label,
            created_at=iso_of(self.clock.now(), tenant.zone),
        )
        self.repo.put_token(record)
        return token, record.public(tenant.zone)

    def list_tokens(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every token of the tenant with its role and last use (to the hour), oldest first."""
        tenant = self.get(tenant_id)
        records = sorted(self.repo.list_tokens(tenant_id), key=lambda r: (r.created_at, r.token_id))
        return [r.public(tenant.zone) for r in records]

    def revoke_token(self, tenant_id: str, token_id: str) -> None:
        for record in self.repo.list_tokens(tenant_id):
            if record.token_id == token_id:
                self.repo.delete_token(tenant_id, record.token_hash)
                return
        raise NotFoundError(f"token {token_id} does not exist")

    def authenticate(self, tenant_id: str, bearer: str | None, needed: Role) -> TokenRecord:
        """The token's record if it belongs to ``tenant_id`` and its role is at least ``needed``."""
        if not bearer:
            raise UnauthorizedError("missing bearer token")
        owner = token_tenant(bearer)
        if owner is None:
            raise UnauthorizedError("unknown token")
        if owner != tenant_id:
            raise ForbiddenError("this token belongs to another tenant")
        record = self.repo.get_token(tenant_id, hash_token(bearer))  # no token cache: a revoked token is 401 at once
        if record is None:
            raise UnauthorizedError("unknown token")
        if not record.role.at_least(needed):
            raise ForbiddenError(f"this action needs the {needed.value} role")
        self._record_use(record)
        return record

    def _record_use(self, record: TokenRecord) -> None:
        """Note the token's use, at most once per resolution: a conditional write, so concurrent requests of a busy
        token write once. Bookkeeping only: a failure is logged and never fails the request."""
        now = int(self.clock.now().timestamp())
        if not record.use_is_due(now):
            return
        try:
            self.repo.record_token_use(
                record.tenant_id, record.token_hash, at=now, if_before=now - TOKEN_USE_RESOLUTION_SECONDS + 1
            )
        except SiyuError as exc:
            logger.warning("token use not recorded", extra={"tenant": record.tenant_id, "code": exc.code})


ADMIN_TOKEN_CACHE_SECONDS = 60.0  # a rotated admin token works everywhere within a minute (docs/deploy.md)
MIN_ADMIN_TOKEN = 24  # characters: the token is a bearer secret that guards tenant creation


class AdminToken:
    """The platform admin's token. Deployed, it is the SSM SecureString ``<prefix>/admin-token``, read at most once a
    minute per container; offline stages (local, test) may take it from SIYU_ADMIN_TOKEN instead."""

    def __init__(self, secrets: SecretStore | None, clock: Clock, *, offline_token: str | None = None) -> None:
        self.secrets = secrets
        self.clock = clock
        self.offline_token = offline_token
        self._cached: tuple[float, str | None] | None = None

    def value(self) -> str | None:
        if self.offline_token or self.secrets is None:
            return self.offline_token
        now = self.clock.now().timestamp()
        if self._cached is None or now - self._cached[0] >= ADMIN_TOKEN_CACHE_SECONDS:
            self._cached = (now, self.secrets.get(ADMIN_TOKEN_SECRET))
        return self._cached[1]

    def store(self, token: str) -> int:
        """Keep a new admin token in the secret store (the operator's command); its version."""
        token = token.strip()
        if len(token) < MIN_ADMIN_TOKEN or any(c.isspace() for c in token):
            raise InvalidError(f"the admin token must be at least {MIN_ADMIN_TOKEN} characters with no spaces")
        if self.secrets is None:
            raise SiyuError("SIYU_SECRETS is 'table' here: offline stages take SIYU_ADMIN_TOKEN from the environment")
        self._cached = None
        return self.secrets.put(ADMIN_TOKEN_SECRET, token)


def check_admin(bearer: str | None, admin_token: str | None) -> None:
    """The platform admin token guards tenant creation; compared in constant time."""
    if not admin_token:
        raise ForbiddenError(
            "admin API disabled: no admin token is set (SSM parameter <prefix>/admin-token; SIYU_ADMIN_TOKEN offline)"
        )
    if not bearer or not hmac.compare_digest(bearer.encode(), admin_token.encode()):
        raise UnauthorizedError("invalid admin token")
