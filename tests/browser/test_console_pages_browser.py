"""Every console page in headless Chromium on the live stack (issue 13 §4), walked as tests/browser/console_walk.py
walks: ops sign in with the tenant token and start from the navigation the page shows (so a page another area adds
is walked as soon as a link leads to it), staff sign in through WeCom's sign-in page (the sandbox's) and start from
theirs, their own customer's page and the chat sidebar; each page answers 200, passes the accessibility pass
(tests/browser/a11y.py), fits a 360 px phone and is photographed at 1280 and 360 px into test-artifacts/screenshots/.
Another staff member's customer is the 403 page; a form sent without its CSRF token is refused with the 403 page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, landed, shoot, sign_in, sign_in_with_wecom
from tests.browser.console_walk import built, nav, visit, walk

pytestmark = pytest.mark.xdist_group("live_console")

STAFF = "zhanglaoshi"  # a demo staff member (devstack.seed.DEMO_STAFF)


def test_ops_sign_in_with_the_token_and_every_page_they_reach_passes(
    console: Browser, live_console: LiveConsole
) -> None:
    """Signed out, a page sends ops to the sign-in page (itself checked), where the tenant token signs them in and
    back to the page they asked for; then every page reachable from the nav as the page shows it."""
    home = f"/console/{live_console.tenant_id}"
    console.navigate(f"{live_console.base_url}{home}")
    signin = urlsplit(console.url)
    assert console.status == 200 and signin.path == f"{home}/signin", console.url
    assert visit(console, live_console, f"{signin.path}?{signin.query}", "signin") == []
    console.fill("机构令牌", live_console.tenant_token)
    console.click("登录")
    assert console.status == 200 and landed(console, home), console.text()
    links = nav(console)
    assert [label for label, _ in links][:2] == ["概览", "渠道活码"], links
    walked = walk(console, live_console, "ops", [path for _, path in links])
    assert walked.problems == {}, walked.report()
    assert home in walked.visited


def test_staff_sign_in_and_every_page_they_reach_passes_but_not_anothers_customer(
    console: Browser, live_console: LiveConsole
) -> None:
    """Staff sign in through WeCom's web sign-in (the sandbox plays oauth2/authorize: pick the member), then walk."""
    base = f"/console/{live_console.tenant_id}"
    sign_in_with_wecom(console, live_console, STAFF)
    theirs = [c["customer_id"] for c in live_console.customers if c["userid"] == STAFF]
    others = [c["customer_id"] for c in live_console.customers if c["userid"] != STAFF]
    start = [f"{base}/sidebar"] + [f"{base}/customers/{c}" for c in theirs[:1]]
    if built(f"{base}/my"):  # 我的今天 shows the staff nav
        links = nav(console)
        assert [label for label, _ in links] == ["我的今天"]
        start = [path for _, path in links] + start
    walked = walk(console, live_console, "staff", start)
    if not walked.visited:
        pytest.skip(f"no staff page is built yet: {walked.pending}")
    assert walked.problems == {}, walked.report()
    if others and built(f"{base}/customers/{others[0]}"):
        assert visit(console, live_console, f"{base}/customers/{others[0]}", "staff-others-customer") == ["HTTP 403"]


def test_a_form_sent_without_its_csrf_token_is_refused_with_the_403_page(
    console: Browser, live_console: LiveConsole
) -> None:
    """The sign-out form, its hidden csrf field removed in the page: 403 page, and the session is still there."""
    sign_in(console, live_console, "ops")  # through a one-use link
    assert console.status == 200
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
