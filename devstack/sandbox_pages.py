"""The sandbox's browser pages: what a staff member's browser (WeCom's in-app one) sees of WeCom.

- ``GET /connect/oauth2/authorize``: WeCom's web sign-in (网页授权). Inside WeCom a signed-in member is sent straight
  back to ``redirect_uri`` with ``code`` and ``state``; the sandbox has no signed-in member, so it shows the corp's
  members to pick from (or, with ``sandbox_userid`` given, redirects at once, as WeCom would for that member). The
  parameters are checked as WeCom checks them: appid a known corp, response_type=code, a snsapi scope, and a
  redirect_uri; the code is then redeemed through ``auth/getuserinfo`` (devstack/wecom_world/oauth.py).

Pages answer RawAnswer (devstack/sandbox_http.py); a path no page serves answers None and goes on to the APIs.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from devstack.sandbox_http import RawAnswer
from devstack.wecom_world import WeComWorld
from devstack.wecom_world.oauth import issue_code, members
from devstack.wecom_world.state import WorldError

Page = Callable[[dict[str, str], bytes], RawAnswer]
HTML = "text/html; charset=utf-8"
SCOPES = frozenset({"snsapi_base", "snsapi_privateinfo"})


class PageParts(Protocol):
    world: WeComWorld


class PageRoutes:
    """The browser pages of one sandbox, by method and path. Other modules add theirs with ``add``."""

    def __init__(self, sandbox: PageParts) -> None:
        self._sandbox = sandbox
        self._pages: dict[tuple[str, str], Page] = {("GET", "/connect/oauth2/authorize"): self._authorize}

    def add(self, method: str, path: str, page: Page) -> None:
        self._pages[(method, path)] = page

    def answer(self, method: str, path: str, query: dict[str, str], raw: bytes) -> RawAnswer | None:
        page = self._pages.get((method, path))
        return page(query, raw) if page is not None else None

    def _authorize(self, query: dict[str, str], raw: bytes) -> RawAnswer:
        corp_id = query.get("appid", "")
        redirect = query.get("redirect_uri", "")
        world = self._sandbox.world
        if corp_id not in world.corps:
            return _page(400, "参数错误", "appid 不是已登记的企业。")
        if query.get("response_type") != "code" or query.get("scope") not in SCOPES:
            return _page(400, "参数错误", "response_type 须为 code，scope 须为 snsapi_base 或 snsapi_privateinfo。")
        if urlsplit(redirect).scheme not in ("http", "https") or not urlsplit(redirect).netloc:
            return _page(400, "参数错误", "redirect_uri 须为完整的网址。")
        userid = query.get("sandbox_userid")
        if userid:
            try:
                code = issue_code(world, corp_id, userid)
            except WorldError as exc:
                return _page(403, "无法登录", str(exc))
            sep = "&" if urlsplit(redirect).query else "?"
            location = f"{redirect}{sep}{urlencode({'code': code, 'state': query.get('state', '')})}"
            return RawAnswer(302, HTML, b"", {"Location": location})
        with world.lock:
            people = members(world.corp(corp_id))
        items = "".join(
            f'<li><a href="?{html.escape(urlencode({**query, "sandbox_userid": uid}))}">以 {html.escape(name)}'
            f"（{html.escape(uid)}）身份继续</a></li>"
            for uid, name in people.items()
        )
        body = f"<p>企业微信沙箱：选择登录的成员。</p><ul>{items or '<li>这个企业还没有成员。</li>'}</ul>"
        return _page(200, "企业微信登录", body, raw_html=True)


def _page(status: int, title: str, message: str, *, raw_html: bool = False) -> RawAnswer:
    text = message if raw_html else f"<p>{html.escape(message)}</p>"
    doc = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{text}</body></html>"
    )
    return RawAnswer(status, HTML, doc.encode())


def member_route(world: WeComWorld) -> Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]:
    """``POST /sandbox/members {corp_id, userid, name?}``: a corp member who can sign in (staff)."""

    def register(query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, userid = str(body.get("corp_id") or ""), str(body.get("userid") or "")
        if not userid or len(userid) > 64:
            raise WorldError("userid is required (at most 64 characters)")
        with world.lock:
            world.corp(corp_id).members[userid] = str(body.get("name") or userid)
        return {"ok": True}

    return register
