"""Signing in and out of the console (issue 13 §1): a tenant token, a one-use link, or WeCom OAuth for staff.

Each way in ends the same: the session cookie is set and the browser goes on to where it was headed (``next``,
a path of this tenant's console only). Routes are thin: one ConsoleAuth call each (services/console_auth.py).
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.console import cookies
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.console import SESSION_HOURS, ConsoleSession, safe_next
from chalicelib.domain.tenants import Role
from chalicelib.errors import ForbiddenError, UnauthorizedError

bp = Blueprint(__name__)


def _signed_in(pc: PageCtx, sid: str, session: ConsoleSession, target: str) -> Redirect:
    pc.cookies_out.append(cookies.make(cookies.SESSION, sid, pc.tenant_id, max_age=SESSION_HOURS * 3600))
    pc.cookies_out.append(cookies.clear(cookies.PRE_CSRF, pc.tenant_id))
    home = f"{pc.base}/my" if session.role == Role.STAFF.value else pc.base
    return Redirect(target if target != safe_next(pc.tenant_id, None) else home)


@page(bp, "/console/{tenant_id}/signin", role=None, summary="Sign in: a tenant token (ops), or WeCom (staff)")
def signin_form(pc: PageCtx, tenant_id: str) -> PageResult:
    nxt = safe_next(tenant_id, pc.query.get("next"))
    return Html("signin.html", {"next": nxt, "error": None, "title": "登录"})


@page(bp, "/console/{tenant_id}/signin", ("POST",), role=None, summary="Exchange a tenant token for a session")
def signin(pc: PageCtx, tenant_id: str) -> PageResult:
    nxt = safe_next(tenant_id, pc.form.get("next"))
    try:
        sid, session = pc.svc.console_auth.sign_in_with_token(tenant_id, pc.form.get("token", ""))
    except (UnauthorizedError, ForbiddenError):
        error = "令牌无效，或不属于这个机构。"
        return Html("signin.html", {"next": nxt, "error": error, "title": "登录"}, status=401)
    return _signed_in(pc, sid, session, nxt)


@page(bp, "/console/{tenant_id}/signin/link", role=None, summary="Sign in through a one-use link (k)")
def signin_link(pc: PageCtx, tenant_id: str) -> PageResult:
    sid, session = pc.svc.console_auth.redeem_link(tenant_id, pc.query.get("k"))
    return _signed_in(pc, sid, session, safe_next(tenant_id, None))


@page(bp, "/console/{tenant_id}/oauth", role=None, summary="Staff sign-in: off to WeCom's sign-in page")
def oauth_start(pc: PageCtx, tenant_id: str) -> PageResult:
    url = pc.svc.console_auth.oauth_start(tenant_id, pc.query.get("next"))
    return Response(body="", status_code=302, headers={"Location": url})


@page(bp, "/console/{tenant_id}/oauth/callback", role=None, summary="Staff sign-in: WeCom's code → a session")
def oauth_callback(pc: PageCtx, tenant_id: str) -> PageResult:
    sid, session, nxt = pc.svc.console_auth.oauth_finish(tenant_id, pc.query.get("code"), pc.query.get("state"))
    return _signed_in(pc, sid, session, nxt)


@page(bp, "/console/{tenant_id}/signout", ("POST",), role=Role.VIEWER, summary="Sign out (the session ends)")
def signout(pc: PageCtx, tenant_id: str) -> PageResult:
    pc.svc.console_auth.sign_out(tenant_id, cookies.read(pc.request).get(cookies.SESSION))
    pc.cookies_out.append(cookies.clear(cookies.SESSION, tenant_id))
    return Redirect(f"{pc.base}/signin", flash="已退出登录")
