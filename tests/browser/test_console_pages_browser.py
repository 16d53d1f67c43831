"""Every console page in headless Chromium on the live stack (issue 13 §4): ops sign in through a one-use link and
walk the navigation as the page shows it (so a page another area adds is walked as soon as its nav entry leads to
it), staff likewise plus their own customer's page and the chat sidebar; each page answers 200, passes the
accessibility pass (tests/browser/a11y.py), fits a 360 px phone without scrolling sideways, and is photographed at
1280 and 360 px into test-artifacts/screenshots/. A form sent without its CSRF token is refused with the 403 page.

A nav entry whose page is not registered yet (no GET route in chalicelib.console.pages.PAGES) is named in the output
and left out, so this walk does not wait for every area to land; once all have, every entry is walked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from chalicelib.console import blueprints
from chalicelib.console.pages import PAGES
from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, SignInRole, check_a11y, page_width, shoot

pytestmark = pytest.mark.xdist_group("live_console")

PHONE = 360
STAFF = "zhanglaoshi"  # a demo staff member (devstack.seed.DEMO_STAFF)
NAV = (
    "function() { return Array.from(document.querySelectorAll('nav a[href]'), a => [a.innerText.trim(), a.pathname]); }"
)


def _built() -> list[re.Pattern[str]]:
    blueprints()  # imports every area's module, so PAGES holds every page the app serves
    return [
        re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(p.path)) + "/?$")
        for p in PAGES
        if p.method == "GET" and p.role is not None
    ]


BUILT = _built()


def built(path: str) -> bool:
    return any(pattern.match(path) for pattern in BUILT)


@pytest.fixture
def console(browser: Browser, live_console: LiveConsole) -> Iterator[Browser]:
    """The session's browser with no cookies (nobody signed in), left without them."""
    browser.clear_cookies()
    yield browser
    browser.clear_cookies()


def sign_in(browser: Browser, live: LiveConsole, role: SignInRole = "ops", userid: str | None = None) -> None:
    """Through a one-use link: the session cookie is HttpOnly and SameSite, and the role's home is shown."""
    browser.navigate(live.signin_link(role, userid))
    home = live.console("my" if role == "staff" else "").rstrip("/")
    assert browser.url.rstrip("/") == home
    if built(urlsplit(home).path):
        assert browser.status == 200, browser.text()
    session = [c for c in browser.cookies() if c["name"] == "siyu_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] in ("Lax", "Strict"), session


def visit(browser: Browser, live: LiveConsole, path: str, name: str) -> list[str]:
    """Open ``path``, photograph it, and say everything wrong with it (nothing: an empty list)."""
    browser.navigate(f"{live.base_url}{path}")
    shoot(browser, name)
    problems = [] if browser.status == 200 else [f"HTTP {browser.status}"]
    problems += [str(f) for f in check_a11y(browser)]
    wide = page_width(browser, PHONE)
    if wide > PHONE:
        problems.append(f"{wide} px wide on a {PHONE} px phone: it scrolls sideways (wide tables belong in .scroll)")
    return problems


def shot_name(role: str, path: str, tenant_id: str) -> str:
    rest = path.removeprefix(f"/console/{tenant_id}").strip("/")
    return f"{role}-" + (re.sub(r"[^A-Za-z0-9]+", "-", rest) or "home")


def walk(browser: Browser, live: LiveConsole, role: str, extra: list[str]) -> dict[str, list[str]]:
    """Every nav entry (as the home page shows the nav) and ``extra`` paths; {path: problems} of those with any."""
    links = browser.js(NAV)
    assert links, "the page shows no navigation"
    paths = list(dict.fromkeys([urlsplit(path).path for _, path in links] + extra))
    pending = [p for p in paths if not built(p)]
    if pending:
        print(f"\nconsole walk ({role}): not built yet, left out: {pending}", file=sys.stderr)
    if len(pending) == len(paths):
        pytest.skip(f"no {role} page is built yet: {pending}")
    found = {p: visit(browser, live, p, shot_name(role, p, live.tenant_id)) for p in paths if built(p)}
    bad = {path: problems for path, problems in found.items() if problems}
    if bad:
        print(f"\nconsole walk ({role}): the app's log is {live.data_dir / 'logs' / 'app.log'}", file=sys.stderr)
    return bad


def test_ops_sign_in_with_the_token_and_every_page_of_their_nav_passes(
    console: Browser, live_console: LiveConsole
) -> None:
    """Signed out, a page sends ops to the sign-in page (itself walked), where the tenant token signs them in and
    back to the page they asked for; then the nav as the page shows it."""
    home = f"/console/{live_console.tenant_id}"
    console.navigate(f"{live_console.base_url}{home}")
    signin = urlsplit(console.url)
    assert console.status == 200 and signin.path == f"{home}/signin", console.url
    assert visit(console, live_console, f"{signin.path}?{signin.query}", "signin") == []
    console.fill("机构令牌", live_console.tenant_token)
    console.click("登录")
    assert console.status == 200 and urlsplit(console.url).path.rstrip("/") == home, console.text()
    session = [c for c in console.cookies() if c["name"] == "siyu_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] in ("Lax", "Strict"), session
    labels = [label for label, _ in console.js(NAV)]
    assert labels[:2] == ["概览", "渠道活码"], labels
    assert walk(console, live_console, "ops", []) == {}


def test_staff_sign_in_and_their_pages_pass(console: Browser, live_console: LiveConsole) -> None:
    sign_in(console, live_console, "staff", STAFF)
    if not built(f"/console/{live_console.tenant_id}/my"):
        pytest.skip("the staff home (我的今天, /my) is not built yet: no page shows the staff nav")
    assert [label for label, _ in console.js(NAV)] == ["我的今天"]
    base = f"/console/{live_console.tenant_id}"
    theirs = [c for c in live_console.customers if c["userid"] == STAFF]
    extra = [f"{base}/sidebar"] + [f"{base}/customers/{c['customer_id']}" for c in theirs[:1]]
    assert walk(console, live_console, "staff", extra) == {}


def test_a_form_sent_without_its_csrf_token_is_refused_with_the_403_page(
    console: Browser, live_console: LiveConsole
) -> None:
    """The sign-out form, its hidden csrf field removed in the page: 403 page, and the session is still there."""
    sign_in(console, live_console, "ops")  # through a one-use link
    removed = console.js(
        "function() { const f = document.querySelector('form.signout input[name=csrf]'); f.remove(); return true; }"
    )
    assert removed
    console.click("退出")
    assert console.status == 403 and "403" in console.text("main")
    shoot(console, "csrf-refused")
    assert [str(f) for f in check_a11y(console)] == []
    console.navigate(live_console.console(""))
    assert console.status == 200 and urlsplit(console.url).path.rstrip("/") == f"/console/{live_console.tenant_id}"
    console.click("退出")  # with its token the same form signs out
    assert urlsplit(console.url).path == f"/console/{live_console.tenant_id}/signin"
