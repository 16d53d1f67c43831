"""Signing in to the console: a tenant token, a one-use link, WeCom OAuth for staff (through the sandbox's sign-in
page and auth/getuserinfo), sessions that end, and the cookie's attributes."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

from tests.functional.conftest import ADMIN, CORP, TENANT, Api
from tests.functional.console_client import ConsoleClient, signed_in


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _sandbox_get(url: str) -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _with_app(api: Api, *, create: bool = True) -> None:
    if create:
        api.create_tenant()
    admin = api.token(TENANT, "admin")
    assert api.call("PATCH", f"/admin/tenants/{TENANT}", {"wecom": {"agent_id": 1000002}}, ADMIN).status_code == 200
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, admin).status_code == 201
    for userid in ("zhang", "wang"):
        api.sandbox.world.corp(CORP).members[userid] = userid


def _oauth(api: Api, client: ConsoleClient, userid: str, nxt: str = "") -> tuple[str, str]:
    """Through WeCom's sign-in as ``userid``: the callback's path (with code and state) and WeCom's authorize URL."""
    start = client.get(f"/console/{TENANT}/oauth" + (f"?next={nxt}" if nxt else ""))
    assert start.status_code == 302, start.body
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{api.sandbox.base_url}/connect/oauth2/authorize?")
    assert authorize.endswith("#wechat_redirect")
    status, headers, _ = _sandbox_get(authorize.split("#", 1)[0] + f"&sandbox_userid={userid}")
    assert status == 302
    back = urlsplit(headers["Location"])
    assert back.netloc == "console.test"  # SIYU_CONSOLE_URL
    return f"{back.path}?{back.query}", authorize


def test_token_sign_in_sets_a_session_cookie_and_goes_to_next(api: Api) -> None:
    api.create_tenant()
    ops_token = api.token(TENANT, "ops")
    client = ConsoleClient(api)
    form = client.get(f"/console/{TENANT}/signin?next=/console/{TENANT}/channels")
    assert form.status_code == 200 and "siyu_csrf" in client.cookies
    bad = client.post(f"/console/{TENANT}/signin", {"token": "sy_acme_nope", "next": f"/console/{TENANT}/channels"})
    assert bad.status_code == 401 and "令牌无效" in bad.body.decode()
    assert "siyu_session" not in client.cookies
    good = client.post(f"/console/{TENANT}/signin", {"token": ops_token, "next": f"/console/{TENANT}/channels"})
    assert good.status_code == 303 and good.headers["Location"] == f"/console/{TENANT}/channels"
    cookie = next(c for c in _set_cookies(good) if c.startswith("siyu_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Path=/console/{TENANT}" in cookie
    assert "Secure" not in cookie  # offline stage: plain http on loopback
    assert client.get(f"/console/{TENANT}").status_code == 200


def test_sign_in_form_needs_its_csrf_token_and_next_stays_on_the_console(api: Api) -> None:
    api.create_tenant()
    client = ConsoleClient(api)
    client.get(f"/console/{TENANT}/signin")
    refused = client.post(f"/console/{TENANT}/signin", {"token": api.token(TENANT, "ops")}, csrf=False)
    assert refused.status_code == 403
    away = client.post(
        f"/console/{TENANT}/signin", {"token": api.token(TENANT, "ops"), "next": "https://evil.example/"}
    )
    assert away.headers["Location"] == f"/console/{TENANT}"


def test_a_sign_in_link_works_once_and_expires(api: Api) -> None:
    api.create_tenant()
    admin = api.token(TENANT, "admin")
    link = api.call("POST", f"/t/{TENANT}/console-links", {}, admin)
    assert link.status_code == 201 and link.json["url"].startswith("http://console.test/console/acme/signin/link?k=")
    first, second = ConsoleClient(api), ConsoleClient(api)
    assert first.get(link.json["path"]).status_code == 303
    assert second.get(link.json["path"]).status_code == 403
    late = api.call("POST", f"/t/{TENANT}/console-links", {}, admin)
    api.clock.advance(minutes=16)
    assert ConsoleClient(api).get(late.json["path"]).status_code == 403
    bad = api.call("POST", f"/t/{TENANT}/console-links", {"role": "staff"}, admin)
    assert bad.status_code == 400
    assert api.call("POST", f"/t/{TENANT}/console-links", {}, api.token(TENANT, "ops")).status_code == 403


def test_sessions_end_after_twelve_hours_and_on_sign_out(api: Api) -> None:
    api.create_tenant()
    ops = signed_in(api)
    assert ops.get(f"/console/{TENANT}").status_code == 200
    other = signed_in(api)
    out = other.post(f"/console/{TENANT}/signout", {})
    assert out.status_code == 303 and out.headers["Location"] == f"/console/{TENANT}/signin"
    assert "siyu_session" not in other.cookies
    api.clock.advance(hours=12, minutes=1)
    assert ops.get(f"/console/{TENANT}").status_code == 303


def test_staff_sign_in_through_wecom_oauth(api: Api) -> None:
    _with_app(api)
    client = ConsoleClient(api)
    callback, authorize = _oauth(api, client, "zhang", nxt=f"/console/{TENANT}/my")
    query = parse_qs(urlsplit(authorize).query)
    assert query["appid"] == [CORP] and query["agentid"] == ["1000002"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == [f"http://console.test/console/{TENANT}/oauth/callback"]
    done = client.get(callback)
    assert done.status_code == 303 and done.headers["Location"] == f"/console/{TENANT}/my"
    assert "siyu_session" in client.cookies
    again = ConsoleClient(api).get(callback)  # the state and the code are both spent
    assert again.status_code == 403
    calls = api.sandbox.world.calls("auth/getuserinfo")
    assert [c.errcode for c in calls] == [0]


def test_oauth_refuses_a_member_who_is_not_staff_a_used_code_and_a_tenant_without_an_app(api: Api) -> None:
    api.create_tenant()
    no_app = ConsoleClient(api).get(f"/console/{TENANT}/oauth")
    assert no_app.status_code == 403 and "AgentId" in no_app.body.decode()
    _with_app(api, create=False)
    client = ConsoleClient(api)
    callback, _ = _oauth(api, client, "wang")  # a corp member, but not one of the tenant's staff
    refused = client.get(callback)
    assert refused.status_code == 403 and "siyu_session" not in client.cookies
    api.clock.advance(minutes=6)  # WeCom's code lives 5 minutes; the state 10
    callback, _ = _oauth(api, client, "zhang")
    api.clock.advance(minutes=6)
    late = client.get(callback)
    assert late.status_code in (400, 403)
    assert [c.errcode for c in api.sandbox.world.calls("auth/getuserinfo")][-1] == 40029


def test_the_sandbox_sign_in_page_lists_members_and_checks_its_parameters(api: Api) -> None:
    _with_app(api)
    base = f"{api.sandbox.base_url}/connect/oauth2/authorize"
    ok = f"{base}?appid={CORP}&redirect_uri=http%3A%2F%2Fconsole.test%2Fcb&response_type=code&scope=snsapi_base&state=s"
    status, _, page = _sandbox_get(ok)
    assert status == 200 and "zhang" in page and "wang" in page
    assert _sandbox_get(ok.replace(CORP, "wwunknown"))[0] == 400
    assert _sandbox_get(ok.replace("snsapi_base", "snsapi_userinfo"))[0] == 400


def _set_cookies(resp: object) -> list[str]:
    raw = resp.headers.get("Set-Cookie")  # type: ignore[attr-defined]
    return raw if isinstance(raw, list) else [raw]


def test_inside_wecom_a_page_without_a_session_goes_straight_to_wecom_sign_in(api: Api) -> None:
    _with_app(api)
    wecom_browser = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0 wxwork/4.1.22 MiniProgramEnv"}
    resp = api.client.http.get(f"/console/{TENANT}", headers=wecom_browser)
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/console/{TENANT}/oauth?next=%2Fconsole%2F{TENANT}"
    plain = api.client.http.get(f"/console/{TENANT}", headers={"User-Agent": "Mozilla/5.0 Chrome/120"})
    assert plain.headers["Location"].startswith(f"/console/{TENANT}/signin?next=")
