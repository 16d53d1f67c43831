"""The accessibility checker itself (tests/browser/a11y.py), against small pages with one known fault each: it must
find that fault and nothing else, and pass a page without faults, so a console page that passes it means something.
Also shoot() and page_width() (tests/browser/console_live.py) on small pages."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from tests.browser import console_live
from tests.browser.a11y import check_a11y
from tests.browser.cdp import Browser

STYLE = "body{color:#222;background:#fff;font:16px sans-serif} :focus{outline:2px solid #1a5fb4}"


def page(body: str, *, lang: str = "zh-CN", style: str = STYLE, h1: str = "<h1>客户</h1>") -> str:
    html = f'<!doctype html><html{f" lang={lang!r}" if lang else ""}><head><meta charset="utf-8">'
    html += f"<style>{style}</style></head><body>{h1}{body}</body></html>"
    return "data:text/html;charset=utf-8;base64," + base64.b64encode(html.encode()).decode()


GOOD = page(
    '<form action="/echo"><label for="n">姓名</label><input id="n" name="name">'
    '<label>阶段 <select name="stage"><option>新客</option></select></label>'
    '<input name="q" aria-label="搜索"><span id="t">备注</span><textarea name="note" aria-labelledby="t"></textarea>'
    '<label for="f">截图</label><input id="f" type="file" name="proof">'
    '<label>开始 <input type="date" name="start" value="2026-12-06"></label>'
    '<label>时间 <input type="datetime-local" name="at"></label>'
    '<input type="radio" name="r" value="1" aria-label="一">'
    '<input type="radio" name="r" value="2" checked aria-label="二">'
    '<input type="hidden" name="csrf" value="x"><button>保存</button></form>'
    '<a href="#top">回到顶部</a><a href="#c"><img src="data:," alt="复制"></a><img src="data:," alt="">'
    '<p style="color:#767676">次要文字 4.54:1</p>'
    '<div style="background:#333"><p style="color:#fff">深色背景上的白字</p></div>'
    '<p style="color:#949494;font-size:24px">大字 3:1</p>'
)


def findings(browser: Browser, url: str) -> list[tuple[str, str]]:
    browser.navigate(url)
    return [(f.rule, f.target) for f in check_a11y(browser)]


def test_a_page_without_faults_passes(browser: Browser) -> None:
    assert findings(browser, GOOD) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<input name="phone" placeholder="手机号">', [("name", "input[name=phone]")]),
        ('<label for="other">姓名</label><input name="x">', [("name", "input[name=x]")]),
        ('<select name="tag" title="标签"><option>a</option></select>', [("name", 'select[name=tag] "a"')]),
        ('<textarea name="t" aria-labelledby="missing"></textarea>', [("name", "textarea[name=t]")]),
        ('<img src="data:,">', [("alt", 'img "data:,"')]),
        ('<a href="#x"><img src="data:," alt=""></a><button aria-label="关闭">×</button>', [("name", "a")]),
        ('<button type="button"></button>', [("name", "button")]),
        ('<p style="color:#999">浅灰字</p>', [("contrast", 'p "浅灰字"')]),
        ('<p style="color:#949494;font-size:23px">不够大</p>', [("contrast", 'p "不够大"')]),
        ('<div style="background:#333"><p style="color:#555">暗底暗字</p></div>', [("contrast", 'p "暗底暗字"')]),
        ('<p style="color:#222;opacity:.3">半透明</p>', [("contrast", 'p "半透明"')]),
        ('<a href="#x" style="outline:none">无焦点样式</a>', [("focus", 'a "无焦点样式"')]),
        ('<a href="#a">一</a><a href="#b" tabindex="1">二</a>', [("keyboard", 'a "二"')]),
    ],
)
def test_each_fault_is_found_and_nothing_else(browser: Browser, body: str, expected: list[tuple[str, str]]) -> None:
    assert findings(browser, page(body)) == expected


def test_a_box_that_scrolls_is_a_tab_stop_only_when_nothing_in_it_is(browser: Browser) -> None:
    """Chromium lets the keyboard reach a scrolling box with nothing focusable in it (to scroll it): no fault."""
    wide = '<table style="width:900px"><tr><td>{}</td></tr></table>'
    box = '<div class="scroll" style="overflow-x:auto;max-width:200px">{}</div>'
    body = (
        box.format(wide.format("宽表格")) + box.format(wide.format('<a href="#c">客户</a>')) + '<a href="#n">下一页</a>'
    )
    assert findings(browser, page(body)) == []


def test_a_page_without_lang_or_with_two_h1_fails(browser: Browser) -> None:
    assert findings(browser, page("<p>正文</p>", lang="")) == [("lang", "html")]
    assert findings(browser, page("<h1>又一个</h1>")) == [("h1", "page")]
    assert findings(browser, page("<h2>没有</h2>", h1="")) == [("h1", "page")]


def test_focus_styles_removed_by_the_stylesheet_are_found_on_every_stop(browser: Browser) -> None:
    bare = page('<a href="#a">一</a><label>名 <input name="n"></label>', style=":focus{outline:none}")
    assert findings(browser, bare) == [("focus", 'a "一"'), ("focus", "input[name=n]")]
    shadow = page('<a href="#a">一</a>', style=":focus{outline:none;box-shadow:0 0 0 3px #1a5fb4}")
    assert findings(browser, shadow) == []


def test_shoot_keeps_the_whole_page_at_1280_and_360_px(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_live, "SHOTS", tmp_path)
    tall = page('<meta name="viewport" content="width=device-width"><div style="height:1500px">长页面</div>')
    browser.navigate(tall)
    kept = console_live.shoot(browser, "tall-page")
    assert [p.name for p in kept] == ["tall-page-1280.png", "tall-page-360.png"]
    sizes = [struct.unpack(">II", p.read_bytes()[16:24]) for p in kept]
    assert sizes[0][0] == 1280 and sizes[1][0] == 360
    assert all(height > 1500 for _, height in sizes)  # the whole page, not the 800 px viewport
    assert browser.evaluate("window.innerWidth") == 1280  # left as a desktop
    with pytest.raises(ValueError):
        console_live.shoot(browser, "../escape")


def test_page_width_says_when_a_phone_would_scroll_sideways(browser: Browser) -> None:
    viewport = '<meta name="viewport" content="width=device-width">'
    browser.navigate(page(viewport + "<p>窄</p>"))
    assert console_live.page_width(browser) == 360
    browser.navigate(page(viewport + '<table style="width:900px"><tr><td>宽表格</td></tr></table>'))
    assert console_live.page_width(browser) > 360
