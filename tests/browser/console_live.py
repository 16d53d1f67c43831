"""The console on a live local stack, for browser tests: `live_console` starts one private stack per test session
exactly as `make drill` does (devstack.drill.Stack: ``python -m devstack.run`` on four free ports with a temporary
data directory: DynamoDB Local, the moto Scheduler, the WeCom sandbox, `chalice local`, the pump), with the demo
tenant `make run` seeds, plus the demo week's channels, plan and camp group (devstack.demo_setup) and a few
customers who scanned (the channel enrolls them in that plan; its first touch is due an hour later:
``move_clock("PT61M")`` makes it a task). Never the `make run` you may have open.

Without Java (DynamoDB Local) it skips with the reason, and fails under CI=true, as the integration suite does.
Under xdist each worker would start its own stack: the browser tests are marked ``xdist_group("live_console")`` so
that ``--dist loadgroup`` sends them all to one worker.

`sign_in(browser, live, role, userid)` signs in through a one-use link, `sign_in_with_wecom(browser, live, userid)`
through WeCom's sign-in page as staff do; `shoot(browser, name)` keeps a page's screenshots at 1280 and 360 px in
test-artifacts/screenshots/; `check_a11y(browser)` is tests/browser/a11y.py's pass. The `console` fixture
(conftest.py) is the session's browser with nobody signed in.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import pytest

from chalicelib.adapters.clock import FileClock
from devstack.demo_setup import DemoError, Setup, expect, prepare
from devstack.demo_week import HttpEndpoint
from devstack.drill import CLOCK_FILE, ZONE, DrillError, Stack
from devstack.dynamodb_local import DynamoDBLocalError, ensure_installed, java_available, java_missing_reason
from devstack.provision import REPO_ROOT
from devstack.seed import ADMIN_TOKEN_FILE, DEMO_CORP_ID, DEMO_TENANT_ID
from tests.browser.a11y import Finding, check_a11y
from tests.browser.cdp import Browser
from tests.conftest import running_in_ci

__all__ = [
    "SHOTS",
    "Finding",
    "LiveConsole",
    "SignInRole",
    "check_a11y",
    "landed",
    "live_console",
    "page_width",
    "shoot",
    "sign_in",
    "sign_in_with_wecom",
]

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
WIDTHS = ((1280, False), (360, True))  # (CSS px, a phone: its viewport meta honoured)
SHOT_HEIGHT = 800  # the viewport; the screenshot is the whole page, up to MAX_SHOT_HEIGHT
MAX_SHOT_HEIGHT = 6000
SCANS = 4  # customers who scanned the demo channel, so the customer pages are not empty
SignInRole = Literal["ops", "staff"]


def _unavailable(reason: str) -> NoReturn:
    print(f"\nbrowser tests (live console): {reason}", file=sys.stderr)
    if running_in_ci():
        pytest.fail(f"CI=true and the live console cannot start: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class LiveConsole:
    """A running stack with the demo tenant: its URLs, tokens, JSON API and sandbox, and sign-in links."""

    stack: Stack
    tenant_id: str
    corp_id: str
    tenant_token: str  # the demo tenant's token, role admin (what `make run` prints)
    admin_token: str  # the platform admin's (POST /admin/tenants …)
    demo: Setup  # the demo week's channels, plan and camp group
    customers: list[dict[str, Any]]  # who scanned: {customer_id, external_userid, userid (their staff member)}

    @property
    def base_url(self) -> str:
        return self.stack.api

    @property
    def sandbox_url(self) -> str:
        return self.stack.sandbox

    @property
    def data_dir(self) -> Path:
        """The stack's data: stack-1.log (its terminal), logs/app.log (the app's JSON log: a 500's story)."""
        return self.stack.data_dir

    def console(self, path: str = "") -> str:
        """The console's URL for ``path`` under the demo tenant (``/console/demo/<path>``)."""
        return f"{self.base_url}/console/{self.tenant_id}/{path.lstrip('/')}"

    def api(self, method: str, path: str, body: Any = None, *, token: str | None = None, ok: int = 0) -> Any:
        """The JSON API as the tenant's admin (or ``token``); the answer's body, or DemoError when not 2xx."""
        answer = HttpEndpoint(self.base_url)(method, path, body, token=token or self.tenant_token)
        return expect(answer, method, path, *((ok,) if ok else range(200, 300)))

    def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        answer = HttpEndpoint(self.sandbox_url)(method, path, body)
        return expect(answer, method, path, *range(200, 300))

    def move_clock(self, advance: str) -> dict[str, Any]:
        """Move the stack's one clock ahead (an ISO-8601 duration, e.g. ``PT61M``); the pump fires whatever becomes
        due on the way (the demo plan's first touch is due 60 minutes after the enrolments). For the whole session."""
        return dict(self.sandbox("POST", "/sandbox/clock", {"advance": advance}))

    def signin_link(self, role: SignInRole = "ops", userid: str | None = None) -> str:
        """A one-time console sign-in link (POST /t/{tenant}/console-links): ops, or the staff member ``userid``."""
        body: dict[str, Any] = {"role": role}
        if userid is not None:
            body["userid"] = userid
        link = self.api("POST", f"/t/{self.tenant_id}/console-links", body, ok=201)
        return f"{self.base_url}{link['path']}"  # its `url` names the console's public origin; this stack's port


@pytest.fixture(scope="session")
def live_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    """One private local stack for the session, seeded; stopped (Ctrl-C, as a user would) at the end."""
    if not java_available():
        _unavailable(java_missing_reason())
    try:
        ensure_installed()
    except DynamoDBLocalError as exc:
        _unavailable(str(exc))
    stack = Stack(tmp_path_factory.mktemp("live-console"))
    _daytime(stack.data_dir)
    try:
        stack.start()
    except DrillError as exc:
        pytest.fail(f"the live console's stack did not start: {exc}", pytrace=False)
    try:
        yield _seeded(stack)
    finally:
        stack.stop()


def _seeded(stack: Stack) -> LiveConsole:
    token = stack.token()
    api, sandbox = HttpEndpoint(stack.api), HttpEndpoint(stack.sandbox)
    try:
        demo = prepare(api, sandbox, tenant_id=DEMO_TENANT_ID, corp_id=DEMO_CORP_ID, token=token)
        customers = []
        for number in range(SCANS):
            body = {"corp_id": DEMO_CORP_ID, "state": demo.channels[0].state, "name": f"家长{number + 1}"}
            scan = _scan(sandbox, body)
            customers.append(  # the channel enrolled them in demo.plan_id
                {
                    "customer_id": _customer_id(scan),
                    "external_userid": scan.get("external_userid"),
                    "userid": scan.get("userid"),
                }
            )
    except DemoError as exc:
        pytest.fail(f"seeding the live console failed: {exc} (logs: {stack.data_dir})", pytrace=False)
    admin = (stack.data_dir / ADMIN_TOKEN_FILE).read_text().strip()
    return LiveConsole(stack, DEMO_TENANT_ID, DEMO_CORP_ID, token, admin, demo, customers)


def _daytime(data_dir: Path) -> None:
    """Whatever the hour the tests run at, the stack starts in working hours (10:00 the next morning there when it
    is after 18:00 or before 09:00), so the touches the session makes are due outside quiet hours. Set in its clock
    file before it starts: moving a running stack's clock would make the pump walk every job through the night."""
    clock = FileClock((data_dir / CLOCK_FILE).resolve())
    now = clock.now().astimezone(ZONE)
    if not 9 <= now.hour < 18:
        day = now.date() + timedelta(days=1 if now.hour >= 18 else 0)
        clock.set(datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZONE), running=True)


def _scan(sandbox: HttpEndpoint, body: dict[str, Any]) -> dict[str, Any]:
    """A scan whose callback reached the API. A callback the sandbox could not deliver (once seen: the connection
    to `chalice local` closed without an answer) is scanned again, as WeCom retries a callback, and said."""
    for attempt in range(2):
        scan = dict(expect(sandbox("POST", "/sandbox/scan", body), "POST", "/sandbox/scan", 200))
        if scan.get("callback_status") is not None or attempt:
            return scan
        print(
            f"\nlive console: a scan's callback was not delivered ({scan.get('callback_body')}); again", file=sys.stderr
        )
    raise AssertionError("unreachable")


def _customer_id(scan: Mapping[str, Any]) -> str:
    """The customer the scan made: the API's answer to the sandbox's callback says it."""
    try:
        return str(json.loads(scan["callback_body"])["customer_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DemoError(f"the scan's callback did not make a customer: {scan.get('callback_status')}") from exc


# ---------------------------------------------------------------------------------------------------------- signing in


def landed(browser: Browser, path: str) -> bool:
    """The browser shows ``path`` with a console session: its cookie there, HttpOnly and SameSite."""
    session = [c for c in browser.cookies() if c["name"] == "siyu_session"]
    return (
        urlsplit(browser.url).path.rstrip("/") == path.rstrip("/")
        and len(session) == 1
        and session[0]["httpOnly"]
        and session[0]["sameSite"] in ("Lax", "Strict")
    )


def sign_in(browser: Browser, live: LiveConsole, role: SignInRole = "ops", userid: str | None = None) -> None:
    """Sign in through a one-use link (POST /t/{tenant}/console-links): ops land on the home, staff on 我的今天."""
    browser.navigate(live.signin_link(role, userid))
    home = f"/console/{live.tenant_id}" + ("/my" if role == "staff" else "")
    assert landed(browser, home), f"signed in as {role} {userid or ''}, the browser shows {browser.url}"


def sign_in_with_wecom(browser: Browser, live: LiveConsole, userid: str) -> None:
    """Sign a staff member in as they would: the sign-in page's 企业微信登录, WeCom's sign-in page (the sandbox's
    oauth2/authorize, where the member is picked), back to the console's callback and on to 我的今天."""
    base = f"/console/{live.tenant_id}"
    browser.navigate(f"{live.base_url}{base}")  # signed out: the sign-in page (staff go on to /my once signed in)
    assert urlsplit(browser.url).path == f"{base}/signin", browser.url
    browser.click("企业微信登录")
    assert browser.status == 200 and browser.url.startswith(f"{live.sandbox_url}/connect/oauth2/authorize")
    browser.click(f"（{userid}）")
    assert landed(browser, f"{base}/my"), f"signed in through WeCom as {userid}, the browser shows {browser.url}"


# ------------------------------------------------------------------------------------------------------ screenshots


def shoot(browser: Browser, name: str) -> list[Path]:
    """The whole page at 1280 px (a desktop) and at 360 px (a phone), kept as test-artifacts/screenshots/
    ``<name>-1280.png`` and ``<name>-360.png``; the browser is left at 1280 px."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"a screenshot name is letters, digits, '.', '_' and '-': {name!r}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    kept = []
    try:
        for width, mobile in WIDTHS:
            browser.viewport(width, SHOT_HEIGHT, mobile=mobile)
            height = min(MAX_SHOT_HEIGHT, math.ceil(browser.evaluate("document.documentElement.scrollHeight")))
            clip = {"x": 0, "y": 0, "width": width, "height": max(height, 1), "scale": 1}
            data = browser.page(
                "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
            )["data"]
            path = SHOTS / f"{name}-{width}.png"
            path.write_bytes(base64.b64decode(data))
            kept.append(path)
    finally:
        browser.viewport(WIDTHS[0][0], SHOT_HEIGHT, mobile=WIDTHS[0][1])
    return kept


def page_width(browser: Browser, width: int = 360) -> int:
    """How wide the page lays out on a phone ``width`` CSS px wide (more than ``width``: it scrolls sideways)."""
    try:
        browser.viewport(width, SHOT_HEIGHT, mobile=True)
        return int(browser.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"))
    finally:
        browser.viewport(WIDTHS[0][0], SHOT_HEIGHT, mobile=WIDTHS[0][1])
