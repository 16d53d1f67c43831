"""Ops in headless Chromium on the live stack (issue 13 §4): upload a plan sheet with one bad row, see the problem
against the row, fix the cell in the page, preview the calendar, publish. Screenshots at 1280 and 360 px."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, page_width, shoot, sign_in

pytestmark = pytest.mark.xdist_group("live_console")

NAME = "浏览器新客培育"
SHEET = (
    "天数,时间,分钟后,事项,内容类型,内容,执行人,话术\n"
    ",,5,破冰,服务,同学你好～我是思语考研的老师,owner,先自我介绍\n"
    "0,23:30,,资料包,资料,给你准备好了备考规划表,owner,\n"
    "1,20:00,,公开课预告,宣传,今晚20:30 名师直播公开课,owner,只发一次\n"
)


def _checked(browser: Browser, name: str) -> None:
    """The page loaded cleanly, is photographed, passes the accessibility pass and fits a phone."""
    assert browser.status in (200, 400) and browser.errors == [], (browser.status, browser.errors)
    shoot(browser, name)
    assert [str(f) for f in check_a11y(browser)] == []
    assert page_width(browser) <= 360


def test_ops_upload_a_bad_row_fix_it_preview_and_publish(
    browser: Browser, live_console: LiveConsole, tmp_path: Path
) -> None:
    live = live_console
    browser.clear_cookies()
    sign_in(browser, live, "ops")
    browser.navigate(live.console("plans"))
    browser.click("导入SOP表格")
    sheet = tmp_path / "新客培育.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    browser.fill("计划名称", NAME)
    browser.set_files("SOP表格（CSV 或 XLSX）", sheet)
    browser.click("上传并导入")

    # Refused, nothing stored: the bad row is marked, its problem beside it and in the summary at the top.
    assert browser.status == 400
    assert browser.texts("tr.bad-row th") == ["4"]
    assert "不认识的内容类型“宣传”" in browser.text("tr.bad-row td.problems")
    assert "第4行" in browser.text("div.error")
    _checked(browser, "ops-plan-import-bad-row")
    assert all(p["name"] != NAME for p in live.api("GET", f"/t/{live.tenant_id}/plans")["items"])

    # Fixed in the page: the cell, then the grid imported.
    browser.fill("第4行 内容类型", "营销")
    browser.click("用改好的表格导入")
    assert browser.status == 200 and "/plans/pl_" in browser.url, browser.url
    assert "已导入 3 步" in browser.text(".flash") and browser.text("#plan-status") == "草稿"
    _checked(browser, "ops-plan-draft")

    browser.click("日历预览")
    assert browser.status == 200 and "/preview" in browser.url
    days = browser.texts("section.day h2")
    assert days and days[0].startswith("第0天"), days
    assert "顺延" in browser.text("main")  # the 23:30 touch waits for the quiet hours to end, and says so
    _checked(browser, "ops-plan-preview")

    browser.click("← 返回计划")
    browser.click("发布")
    assert browser.status == 200 and browser.text("#plan-status") == "已发布"
    assert "已发布" in browser.text(".flash")
    _checked(browser, "ops-plan-published")
    browser.navigate(live.console("plans"))
    rows = browser.texts("table.plans tbody tr")
    assert any(NAME in row and "已发布" in row for row in rows), rows
