"""Ops in headless Chromium on the live stack (issue 13 §4): create a channel (渠道活码) and see its poster — the
contact way's QR image from the sandbox, composed with the channel's name — then find it in the list."""

from __future__ import annotations

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, page_width, shoot, sign_in

pytestmark = pytest.mark.xdist_group("live_console")

NAME = "小红书笔记-浏览器"


def test_ops_create_a_channel_and_see_its_poster(browser: Browser, live_console: LiveConsole) -> None:
    live = live_console
    browser.clear_cookies()
    sign_in(browser, live, "ops")
    browser.navigate(live.console("channels"))
    assert browser.status == 200 and browser.errors == []
    browser.click("新建渠道")
    assert browser.status == 200
    shoot(browser, "ops-channel-new")
    assert [str(f) for f in check_a11y(browser)] == []

    browser.fill("渠道名称", NAME)
    browser.fill("来源平台", "xiaohongshu")
    browser.click(selector='input[name="userids"][value="lilaoshi"]', navigates=False)
    browser.fill("欢迎语", "你好，这里是思语考研，资料包稍后发你～")
    browser.fill("自动标签", "流量平台来源/小红书")
    browser.click("创建渠道")
    assert browser.status == 200 and browser.errors == [], browser.errors
    assert "渠道已创建" in browser.text(".flash") and browser.text("h1") == NAME

    # The poster loaded (same origin, under the page's CSP): the 750×1100 card around the sandbox's QR PNG.
    size = browser.evaluate(
        "[document.querySelector('.poster img').naturalWidth, document.querySelector('.poster img').naturalHeight]"
    )
    assert size == [750, 1100]
    shoot(browser, "ops-channel-poster")
    assert [str(f) for f in check_a11y(browser)] == []
    assert page_width(browser) <= 360

    browser.navigate(live.console("channels"))
    rows = browser.texts("table.channels tbody tr")
    assert any(NAME in row and "小红书" in row for row in rows), rows
    shoot(browser, "ops-channels-after-create")
    assert [str(f) for f in check_a11y(browser)] == []
