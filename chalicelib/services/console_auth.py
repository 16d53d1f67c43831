"""Signing in to the console (issue 13 §1): ops with a tenant token or a one-use link, staff through WeCom OAuth.

Every way in ends in a session: a random id handed to the browser once (the cookie) and stored only as its SHA-256,
with a CSRF token, a role and, for staff, their userid. Roles are the API's roles: a staff session sees what a staff
token sees. Whatever is wrong with a sign-in, the caller learns no more than "refused" (ForbiddenError/Unauthorized).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from chalicelib.domain.console import (
    LINK,
    LINK_MINUTES,
    SESSION,
    SESSION_HOURS,
    STATE,
    STATE_MINUTES,
    ConsolePass,
    ConsoleSession,
    safe_next,
)
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Role, Tenant, TokenRecord, hash_token
from chalicelib.errors import ForbiddenError, InvalidError
from chalicelib.ports import Clock, IdGenerator, WeComCredentials
from chalicelib.ports.console import ConsoleRepository

SECRET_BYTES = 32
MAX_SECRET_CHARS = 128


class ConsoleStore(ConsoleRepository, Protocol):
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...


class TenantAccess(Protocol):
    def get(self, tenant_id: str) -> Tenant: ...

    def authenticate(self, tenant_id: str, bearer: str | None, needed: Role) -> TokenRecord: ...


class OAuthPort(Protocol):
    def user_id_from_code(self, creds: WeComCredentials, code: str) -> str: ...


class SignInRefusedError(ForbiddenError):
    """A sign-in that cannot go on (expired link, unknown state, not a staff member of this tenant)."""

    code = "signin_refused"


class ConsoleAuth:
    def __init__(
        self,
        repo: ConsoleStore,
        tenants: TenantAccess,
        wecom: OAuthPort,
        clock: Clock,
        ids: IdGenerator,
        *,
        console_url: str,
        oauth_url: str,
    ) -> None:
        self.repo = repo
        self.tenants = tenants
        self.wecom = wecom
        self.clock = clock
        self.ids = ids
        self.console_url = console_url.rstrip("/")
        self.oauth_url = oauth_url

    # --- ways in --------------------------------------------------------------------------------------------------

    def sign_in_with_token(self, tenant_id: str, token: str) -> tuple[str, ConsoleSession]:
        """A session with the token's role (a staff token signs in as its staff member)."""
        record = self.tenants.authenticate(tenant_id, token.strip() or None, Role.VIEWER)
        return self._open(tenant_id, record.role.value, record.staff_userid, via="token")

    def create_link(
        self, tenant_id: str, *, role: str, userid: str | None = None, created_by: str = ""
    ) -> dict[str, Any]:
        """A one-use sign-in link valid LINK_MINUTES: what `make run` prints, and what ops may send a colleague."""
        self.tenants.get(tenant_id)
        parsed = Role(role)
        if parsed == Role.STAFF:
            if not userid or self.repo.get_staff(tenant_id, userid) is None:
                raise InvalidError("a staff sign-in link needs the userid of an existing staff member")
        elif userid:
            raise InvalidError("only a staff sign-in link names a userid")
        secret = self.ids.secret(SECRET_BYTES)
        expires = int(self.clock.now().timestamp()) + LINK_MINUTES * 60
        record = ConsolePass(tenant_id, LINK, expires, role=parsed.value, userid=userid, created_by=created_by)
        self.repo.put_console_record(tenant_id, LINK, hash_token(secret), asdict(record), expires)
        path = f"/console/{quote(tenant_id, safe='')}/signin/link?{urlencode({'k': secret})}"
        return {"url": f"{self.console_url}{path}", "path": path, "expires_in": LINK_MINUTES * 60}

    def redeem_link(self, tenant_id: str, secret: str | None) -> tuple[str, ConsoleSession]:
        doc = self._take(tenant_id, LINK, secret)
        if doc is None:
            raise SignInRefusedError("this sign-in link is unknown, used or expired")
        return self._open(tenant_id, doc["role"], doc.get("userid"), via="link")

    def oauth_start(self, tenant_id: str, next_path: str | None) -> str:
        """The URL of WeCom's sign-in page for this tenant's app, with a one-use state remembering ``next``."""
        tenant = self.tenants.get(tenant_id)
        if not tenant.agent_id:
            raise SignInRefusedError("企业微信登录未配置：请管理员为机构设置应用的 AgentId（wecom.agent_id）")
        state = self.ids.secret(SECRET_BYTES)
        expires = int(self.clock.now().timestamp()) + STATE_MINUTES * 60
        record = ConsolePass(tenant_id, STATE, expires, next=safe_next(tenant_id, next_path))
        self.repo.put_console_record(tenant_id, STATE, hash_token(state), asdict(record), expires)
        redirect = f"{self.console_url}/console/{quote(tenant_id, safe='')}/oauth/callback"
        query = urlencode(
            {
                "appid": tenant.corp_id,
                "redirect_uri": redirect,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
                "agentid": str(tenant.agent_id),
            }
        )
        return f"{self.oauth_url}?{query}#wechat_redirect"

    def oauth_finish(self, tenant_id: str, code: str | None, state: str | None) -> tuple[str, ConsoleSession, str]:
        """The staff session for WeCom's ``code`` (its member must be one of this tenant's staff), and where to go."""
        doc = self._take(tenant_id, STATE, state)
        if doc is None:
            raise SignInRefusedError("this sign-in has expired or was already used: sign in again")
        if not code or len(code) > MAX_SECRET_CHARS:
            raise SignInRefusedError("WeCom did not sign you in")
        tenant = self.tenants.get(tenant_id)
        creds = WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
        userid = self.wecom.user_id_from_code(creds, code)
        if self.repo.get_staff(tenant_id, userid) is None:
            raise SignInRefusedError("你不是本机构登记的员工，请联系运营同事添加")
        sid, session = self._open(tenant_id, Role.STAFF.value, userid, via="oauth")
        return sid, session, str(doc.get("next") or safe_next(tenant_id, None))

    # --- the session ----------------------------------------------------------------------------------------------

    def session(self, tenant_id: str, sid: str | None) -> ConsoleSession | None:
        """The live session with this id, or None (unknown, expired, another tenant's)."""
        if not sid or len(sid) > MAX_SECRET_CHARS:
            return None
        doc = self.repo.get_console_record(tenant_id, SESSION, hash_token(sid))
        if doc is None:
            return None
        session = ConsoleSession(**doc)
        if session.tenant_id != tenant_id or not session.is_open(self.clock.now().timestamp()):
            return None
        return session

    def sign_out(self, tenant_id: str, sid: str | None) -> None:
        if sid and len(sid) <= MAX_SECRET_CHARS:
            self.repo.delete_console_record(tenant_id, SESSION, hash_token(sid))

    def _open(self, tenant_id: str, role: str, userid: str | None, *, via: str) -> tuple[str, ConsoleSession]:
        sid = self.ids.secret(SECRET_BYTES)
        expires = int(self.clock.now().timestamp()) + SESSION_HOURS * 3600
        session = ConsoleSession(tenant_id, role, userid, self.ids.secret(SECRET_BYTES), expires, via)
        self.repo.put_console_record(tenant_id, SESSION, hash_token(sid), asdict(session), expires)
        return sid, session

    def _take(self, tenant_id: str, kind: str, secret: str | None) -> dict[str, Any] | None:
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return None
        doc = self.repo.take_console_record(tenant_id, kind, hash_token(secret))
        if doc is None or doc.get("tenant_id") != tenant_id:
            return None
        if self.clock.now().timestamp() >= int(doc.get("expires_at", 0)):
            return None
        return doc
