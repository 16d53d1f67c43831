"""How every console page is declared: session → role → CSRF → form → one call → render (issue 13 §1).

``page`` is to the console what ``api/common.route`` is to the JSON API: one registry (``PAGES``) feeds Chalice and
the table-driven test of sign-in, tenant, role and CSRF (tests/functional/test_console_access.py), so a new page
cannot skip them. A page answers HTML always: a refused request is the 403 page, a bad form its 400 page (or, better,
the form again with its errors), never JSON and never a 500 for bad input.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

from chalice import Blueprint, Response

from chalicelib.bootstrap import Services, services
from chalicelib.console import cookies
from chalicelib.console.forms import CONTENT_TYPES, Upload, parse_form
from chalicelib.console.render import html_response, render_error
from chalicelib.domain.console import ConsoleSession
from chalicelib.domain.tenants import TENANT_ID_RE, Role, Tenant
from chalicelib.errors import ForbiddenError, SiyuError
from chalicelib.observability import logger


@dataclass(frozen=True)
class PageSpec:
    method: str
    path: str
    summary: str
    role: Role | None  # None: a public page (sign-in), no session needed; its forms use the pre-session CSRF cookie


PAGES: list[PageSpec] = []


@dataclass(frozen=True)
class Html:
    """A rendered page: template name under console/templates, its context, status, and script origins the CSP
    allows besides the console's own (the chat sidebar's JS-SDK)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    script_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Redirect:
    """303 See Other to ``location`` (after a POST: the browser GETs it), with a one-time ``flash`` message."""

    location: str
    flash: str | None = None


PageResult = Html | Redirect | Response


@dataclass
class PageCtx:
    """What a page gets. ``staff_scope`` is the userid of a staff session (pass it to services as the API passes
    ``ctx.staff_scope``); ``cookies_out`` are Set-Cookie values the answer carries (sign-in, sign-out)."""

    request: Any
    svc: Services
    tenant_id: str
    session: ConsoleSession | None
    csrf: str
    form_fields: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, Upload] = field(default_factory=dict)
    flash: str | None = None
    cookies_out: list[str] = field(default_factory=list)
    _tenant: Tenant | None = None

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params or {})

    @property
    def form(self) -> dict[str, str]:
        """The form's fields (the last value of a repeated name; see ``form_list``)."""
        return dict(self.form_fields)

    def form_list(self, name: str) -> list[str]:
        return [value for key, value in self.form_fields if key == name]

    @property
    def staff_scope(self) -> str | None:
        return self.session.staff_scope if self.session is not None else None

    @property
    def actor(self) -> str:
        if self.session is None:
            return "console"
        return self.session.userid or f"console:{self.session.role}"

    @property
    def tenant(self) -> Tenant:
        if self._tenant is None:
            self._tenant = self.svc.tenants.get(self.tenant_id)
        return self._tenant

    @property
    def base(self) -> str:
        """This tenant's console root: ``/console/<tenant>``; pages build their links from it."""
        return console_base(self.tenant_id)


def console_base(tenant_id: str) -> str:
    return f"/console/{quote(tenant_id, safe='')}"


def page(
    bp: Blueprint,
    path: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    role: Role | None,
    summary: str,
) -> Callable[[Callable[..., PageResult]], Any]:
    """Declare a console page at ``path`` (under ``/console/{tenant_id}``) for ``methods``; ``role`` None is public."""
    if not path.startswith("/console/{tenant_id}"):
        raise ValueError(f"console pages live under /console/{{tenant_id}}: {path}")
    for method in methods:
        PAGES.append(PageSpec(method, path, summary, role))

    def decorator(fn: Callable[..., PageResult]) -> Any:
        def view(**raw_params: str) -> Response:
            params = {name: unquote(value) for name, value in raw_params.items()}
            request = bp.current_request
            try:
                return _serve(request, fn, path, params, role)
            except SiyuError as exc:
                return render_error(exc.status, exc.message, base=_base_of(params))
            except Exception:
                logger.exception("console page failed", extra={"page": path})
                return render_error(500, "页面暂时无法显示，请稍后再试。", base=_base_of(params))

        view.__name__ = fn.__name__
        form_types = CONTENT_TYPES if any(m != "GET" for m in methods) else None
        kwargs: dict[str, Any] = {"methods": list(methods), "name": f"console_{fn.__name__}"}
        if form_types:
            kwargs["content_types"] = form_types
        bp.route(path, **kwargs)(view)
        return fn

    return decorator


def _base_of(params: dict[str, str]) -> str:
    tenant_id = params.get("tenant_id", "")
    return console_base(tenant_id) if TENANT_ID_RE.match(tenant_id) else ""


def _serve(
    request: Any, fn: Callable[..., PageResult], path: str, params: dict[str, str], role: Role | None
) -> Response:
    tenant_id = params["tenant_id"]
    if not TENANT_ID_RE.match(tenant_id):
        return render_error(404, "没有这个机构。")
    svc = services()
    jar = cookies.read(request)
    session = svc.console_auth.session(tenant_id, jar.get(cookies.SESSION)) if role is not None else None
    if role is not None and session is None:
        if request.method == "GET":
            target = path.format(**{name: quote(value, safe="") for name, value in params.items()})
            query = request.query_params or {}
            nxt = f"{target}?{urlencode(query)}" if query else target
            # Inside WeCom's own browser (an alert's link, the chat sidebar) the member is known: straight to OAuth.
            agent = (request.headers or {}).get("user-agent", "").lower()
            step = "oauth" if "wxwork" in agent else "signin"
            return Response(
                body="",
                status_code=303,
                headers={"Location": f"{console_base(tenant_id)}/{step}?{urlencode({'next': nxt})}"},
            )
        return render_error(403, "登录已过期，请重新登录后再提交。", base=console_base(tenant_id))
    if session is not None and role is not None and not session.role_enum.at_least(role):
        return render_error(403, "你的账号没有权限打开这个页面。", base=console_base(tenant_id))
    pre_csrf = jar.get(cookies.PRE_CSRF) or ""
    csrf = session.csrf if session is not None else pre_csrf
    pc = PageCtx(request, svc, tenant_id, session, csrf, flash=jar.get(cookies.FLASH))
    if pc.flash:
        pc.cookies_out.append(cookies.clear(cookies.FLASH, tenant_id))
    if session is None and not pre_csrf:  # a public page: the pre-session CSRF token its form will carry
        pc.csrf = svc.ids.secret(24)
        pc.cookies_out.append(cookies.make(cookies.PRE_CSRF, pc.csrf, tenant_id, max_age=3600))
    if request.method != "GET":
        form = parse_form((request.headers or {}).get("content-type", ""), request.raw_body or b"")
        pc.form_fields, pc.files = form.fields, form.files
        sent = dict(form.fields).get("csrf", "")
        if not csrf or not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise ForbiddenError("表单已失效（缺少或错误的安全令牌），请刷新页面后重试。")
    result = fn(pc, **params)
    return _respond(result, pc)


def _respond(result: PageResult, pc: PageCtx) -> Response:
    if isinstance(result, Response):
        response = result
    elif isinstance(result, Redirect):
        response = Response(body="", status_code=303, headers={"Location": result.location})
        if result.flash:
            pc.cookies_out.append(cookies.make(cookies.FLASH, result.flash, pc.tenant_id, max_age=120))
    else:
        context = {
            "session": pc.session,
            "tenant_id": pc.tenant_id,
            "base": pc.base,
            "csrf": pc.csrf,
            "flash": pc.flash,
            **result.context,
        }
        response = html_response(result.template, context, result.status, script_origins=result.script_origins)
    if pc.cookies_out:
        existing = response.headers.get("Set-Cookie")
        values = ([existing] if isinstance(existing, str) else list(existing or [])) + pc.cookies_out
        response.headers["Set-Cookie"] = values if len(values) > 1 else values[0]
    return response
