"""The camp story (社群训练营) in headless Chromium on the live stack, without curl (issue 13 "Done when"): on the
sandbox phone a staff member makes a group; in the console ops sync it, set it up as a study group of a cohort, put a
group live code on it, import the 28-day camp sheet, publish it and enroll the group; on the phone a customer joins
through the code, checks in (打卡) and the clock moves a day; the group's leaderboard shows the check-in and the
owner, signed in through WeCom, finds the camp's task in 我的今天. Screenshots at 1280 and 360 px."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, page_width, shoot, sign_in, sign_in_with_wecom

pytestmark = pytest.mark.xdist_group("live_console")

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo tenant's zone
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
GROUP = "示例教育·浏览器训练营·9期·01"
PLAN = "浏览器28天训练营"
CODE = "浏览器训练营9期-海报"
_SET = """function(action, name, value) {
  const form = document.querySelector('form[action="/sandbox/ui/' + action + '"]');
  const field = form && form.elements[name];
  if (!field) return false;
  if (field.tagName === 'SELECT') {
    const option = Array.from(field.options).find(o => o.value === value || o.text.includes(value));
    if (!option) return false;
    field.value = option.value;
    return true;
  }
  field.value = value;
  return true;
}"""


def _checked(browser: Browser, name: str) -> None:
    """The console page loaded cleanly, is photographed, passes the accessibility pass and fits a phone."""
    assert browser.status == 200 and browser.errors == [], (browser.url, browser.status, browser.errors)
    shoot(browser, name)
    assert [str(f) for f in check_a11y(browser)] == []
    assert page_width(browser) <= 360


def _phone(browser: Browser, live: LiveConsole, action: str, **fields: str) -> str:
    """Do ``action`` on the sandbox phone with ``fields`` (a select: by value or option text); what it says."""
    browser.navigate(f"{live.sandbox_url}/sandbox/ui?corp_id={live.corp_id}")
    for name, value in fields.items():
        assert browser.js(_SET, action, name, value), f"no {name}={value!r} in the phone's {action} form"
    browser.click(selector=f'form[action="/sandbox/ui/{action}"] button')
    done = browser.text("p.done")
    assert not done.startswith("没有成功"), done
    return done


def _cohort_start(live: LiveConsole) -> str:
    """Day 0 such that the camp's next step (D-6, 20:00) falls within the coming 24 hours of the stack's clock."""
    local = datetime.fromisoformat(live.sandbox("GET", "/sandbox/clock")["now"]).astimezone(SHANGHAI)
    today: date = local.date()
    return (today + timedelta(days=6 if local.hour < 20 else 7)).isoformat()


def _until(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_the_camp_story_from_the_console_and_the_sandbox_phone(browser: Browser, live_console: LiveConsole) -> None:
    live = live_console
    owner = live.demo.staff[0]
    parent = live.customers[0]["external_userid"]
    browser.clear_cookies()

    # The phone: the staff member makes a group in WeCom, before Siyu knows it.
    made = _phone(browser, live, "group", owner=owner, group_name=GROUP)
    chat_id = re.search(r"建了群 (\S+?)：", made).group(1)  # type: ignore[union-attr]
    shoot(browser, "sandbox-phone-staff-makes-a-group")

    # The console: 任务进度 → 社群同步, until the group is listed.
    sign_in(browser, live, "ops")
    browser.navigate(live.console("jobs"))
    browser.click("开始社群同步")
    assert browser.status == 200 and "/jobs/" in browser.url, browser.url

    def listed() -> bool:
        browser.navigate(live.console("groups"))
        return GROUP in browser.text("main")

    assert _until(listed), "the synced group is not on the 社群 page"

    # Its setup: a study group of cohort 9期 whose camp starts so that a step falls due within a day.
    start = _cohort_start(live)
    browser.click(GROUP)
    browser.fill("群类型", "study")
    browser.fill("期数", "9期")
    browser.fill("开营日（第 0 天）", start)
    browser.fill("编号", "01")
    browser.click("保存群设置")
    assert browser.text("p.flash") == "群设置已保存" and f"开营 {start}" in browser.text("main")
    _checked(browser, "ops-camp-group-setup")

    # A group live code over it (the naming template first: the rooms WeCom opens for the code are named by it).
    browser.navigate(live.console("groups"))
    browser.click("新建群活码")
    browser.fill("机构名", "示例教育")
    browser.click("保存命名规则")
    assert browser.text("p.flash") == "群命名规则已保存"
    browser.fill("群活码名称", CODE)
    browser.fill("定位", "浏览器训练营")
    browser.fill("期数", "9")
    browser.click(label=GROUP, navigates=False)  # the first list: 引流群
    _checked(browser, "ops-camp-code-new")
    browser.click("创建群活码")
    assert browser.text("p.flash") == "群活码已创建" and browser.text("h1") == CODE
    _checked(browser, "ops-camp-code")

    # The 28-day camp: imported as a camp sheet for study groups of 9期, published, the group enrolled.
    browser.navigate(live.console("plans"))
    browser.click("导入SOP表格")
    browser.fill("计划名称", PLAN)
    browser.fill("计划类型", "group")
    browser.click("社群日历设置", navigates=False)  # the camp's settings fold open
    browser.fill("群类型", "study")
    browser.fill("期数", "9期")
    browser.set_files("SOP表格（CSV 或 XLSX）", SAMPLES / "28天训练营.csv")
    browser.click("上传并导入")
    assert browser.status == 200 and "/plans/pl_" in browser.url, (browser.url, browser.text("main")[:300])
    browser.click("发布")
    assert browser.text("#plan-status") == "已发布"
    browser.click("训练营日历")
    assert browser.status == 200 and "/groups/camps/" in browser.url
    _checked(browser, "ops-camp-enroll")
    browser.click("报名训练营")
    flash = browser.text("p.flash")
    assert flash.startswith("已报名 1 个社群，首次推送"), flash

    # The phone: a parent joins through the code, checks in, and a day passes.
    assert chat_id in _phone(browser, live, "join", config_id=CODE, external_userid=parent)
    assert "HTTP 200" in _phone(browser, live, "say", chat_id=chat_id, external_userid=parent, text="打卡 第1天")
    assert "24 小时" in _phone(browser, live, "clock", hours="24")
    shoot(browser, "sandbox-phone-camp")

    # The console (a day later: a new session, sessions live 12 hours): the leaderboard counts the check-in.
    sign_in(browser, live, "ops")
    browser.navigate(live.console(f"groups/{quote(chat_id)}"))
    rows = browser.texts("section[aria-labelledby=board-h] tbody tr")
    assert len(rows) == 1 and rows[0].split()[0] == "1", rows
    _checked(browser, "ops-camp-leaderboard")

    # The owner, signed in through WeCom, has the camp's task (one confirm-to-send for the group) in 我的今天.
    def camp_task() -> str | None:
        tasks = live.api("GET", f"/t/{live.tenant_id}/tasks?userid={owner}&limit=100")["items"]
        mine = [t for t in tasks if chat_id in (t.get("chat_ids") or [])]
        return str(mine[0]["task_id"]) if mine else None

    task_id = _until(camp_task)
    assert task_id, "the camp's first step made no task for the group's owner"
    browser.clear_cookies()
    sign_in_with_wecom(browser, live, owner)
    assert browser.js("function(id) { return !!document.querySelector('a[href$=\"/my/tasks/' + id + '\"]'); }", task_id)
    _checked(browser, "staff-camp-my-day")
