"""Customers in headless Chromium on the live stack (issue 13 §4): a staff member cannot open another's customer (the
403 page) but opens their own; ops add a tag on a customer's page with the keyboard-reachable form and see it on the
customer and on the timeline. Each page is photographed at 1280 and 360 px and passes the accessibility pass."""

from __future__ import annotations

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, page_width, shoot, sign_in

pytestmark = pytest.mark.xdist_group("live_console")

STAFF = "zhanglaoshi"  # a demo staff member (devstack.seed.DEMO_STAFF); the demo channel deals customers round robin


def _fine(browser: Browser, name: str) -> None:
    """The page photographed, accessible, and no wider than a phone."""
    shoot(browser, name)
    assert [str(f) for f in check_a11y(browser)] == []
    assert page_width(browser, 360) <= 360


def test_a_staff_member_gets_the_403_page_for_another_members_customer(
    console: Browser, live_console: LiveConsole
) -> None:
    mine = next(c for c in live_console.customers if c["userid"] == STAFF)
    theirs = next(c for c in live_console.customers if c["userid"] != STAFF)
    sign_in(console, live_console, "staff", STAFF)
    console.navigate(live_console.console(f"customers/{theirs['customer_id']}"))
    assert console.status == 403
    assert "不在你的名下" in console.text("main")
    assert theirs["customer_id"] not in console.text("main")
    _fine(console, "staff-customer-403")
    console.navigate(live_console.console(f"customers/{mine['customer_id']}"))
    assert console.status == 200 and mine["customer_id"] in console.text("main")
    _fine(console, "staff-customer-own")


def test_ops_add_a_tag_and_see_it_on_the_timeline(console: Browser, live_console: LiveConsole) -> None:
    customer = live_console.customers[0]["customer_id"]
    sign_in(console, live_console)
    console.navigate(live_console.console("customers"))
    assert console.status == 200
    _fine(console, "ops-customers")
    console.click(selector=f'a[href$="/customers/{customer}"]')
    assert console.status == 200 and console.url.endswith(f"/customers/{customer}")
    _fine(console, "ops-customer")
    choices = console.js(
        "function() { return Array.from(document.querySelectorAll('#f-add option'), o => [o.value, o.text])"
        ".filter(o => o[0]); }"
    )
    assert choices, "the demo tenant has tags to add"
    tag_id, label = choices[0]
    console.fill("添加标签", tag_id)
    console.click("添加")
    assert console.status == 200 and console.url.endswith(f"/customers/{customer}")
    assert "标签已更新" in console.text(".flash")
    assert label in console.text("ul.tags")
    assert f"标签变更：+{label}" in console.text("ol.timeline")
    _fine(console, "ops-customer-tagged")
    stored = live_console.api("GET", f"/t/{live_console.tenant_id}/customers/{customer}")
    assert tag_id in stored["tags"]
