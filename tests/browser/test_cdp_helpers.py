"""The CDP helpers (tests/browser/cdp.py) on small pages served over loopback: fill by label, choose a select's
option, choose files, click by text, Tab and the focus, cookies, a page's HTTP status, a confirm() dialog, and what
went wrong while a page loaded (a script error, a script refused by the CSP, a missing stylesheet)."""

from __future__ import annotations

import base64
import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.cdp import Browser, CdpError
from tests.browser.test_a11y_check import GOOD


def doc(body: str, h1: str = "页") -> bytes:
    return f'<!doctype html><html lang="zh"><head><meta charset="utf-8"></head><body><h1>{h1}</h1>{body}'.encode()


HTML = "text/html; charset=utf-8"
ASK = "<form action='/echo' onsubmit=\"return confirm('确定删除这位客户？')\"><button>删除</button></form>"
CSP = {"Content-Security-Policy": "script-src 'self'"}
PAGES: dict[str, tuple[int, str, bytes, dict[str, str]]] = {  # path: status, type, body, headers
    "/": (200, HTML, base64.b64decode(GOOD.split(",", 1)[1]), {"Set-Cookie": "seen=1; HttpOnly; SameSite=Lax"}),
    "/missing": (404, HTML, doc("没有这一页"), {}),
    "/confirm": (200, HTML, doc(ASK), {}),
    "/csp": (200, HTML, doc("<script>document.title = 'inline'</script>"), CSP),
    "/throws": (200, HTML, doc('<script src="/throw.js"></script>'), {}),
    "/throw.js": (200, "text/javascript", b"null.boom();", {}),
    "/broken": (200, HTML, doc('<link rel="stylesheet" href="/missing.css">'), {}),
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """PAGES over loopback HTTP, and any other path answered with a page whose h1 is the path and its query (a form
    sent by GET lands there)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            known = PAGES.get(self.path)
            if known is None and self.path.startswith(("/echo", "/#")):
                known = (
                    200,
                    HTML,
                    doc("").replace(b"<h1>\xe9\xa1\xb5</h1>", f"<h1>{html.escape(self.path)}</h1>".encode()),
                    {},
                )
            status, kind, body, headers = known or (404, "text/plain", b"not here", {})
            self.send_response(status)
            self.send_header("Content-Type", kind)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_what_went_wrong_while_a_page_loaded_is_said(browser: Browser, site: str) -> None:
    browser.navigate(f"{site}/csp")
    assert browser.status == 200
    assert any("Content Security Policy" in e for e in browser.errors), browser.errors
    browser.navigate(f"{site}/throws")
    assert any(e.startswith("script error: TypeError") for e in browser.errors), browser.errors
    browser.navigate(f"{site}/broken")
    assert any(e.startswith("HTTP 404 for") and e.endswith("/missing.css") for e in browser.errors), browser.errors
    browser.navigate(f"{site}/missing")
    assert browser.status == 404 and browser.errors == []  # the page's own status is ``status``, not an error
    browser.navigate(f"{site}/")
    assert browser.errors == []


def test_a_confirm_dialog_is_answered_as_told_and_its_question_kept(browser: Browser, site: str) -> None:
    browser.navigate(f"{site}/confirm")
    browser.accept_dialogs = False
    try:
        browser.click("删除", navigates=False)
        assert urlsplit(browser.url).path == "/confirm" and browser.dialogs[-1] == "确定删除这位客户？"
    finally:
        browser.accept_dialogs = True
    browser.click("删除")
    assert urlsplit(browser.url).path == "/echo" and len(browser.dialogs) >= 2


def test_the_helpers_fill_choose_click_and_tab_as_a_person_would(browser: Browser, site: str, tmp_path: Path) -> None:
    browser.navigate(f"{site}/")
    assert browser.status == 200
    browser.fill("姓名", "王同学")
    browser.fill("阶段", "新客")
    proof = tmp_path / "proof.png"
    proof.write_bytes(b"\x89PNG\r\n\x1a\n")
    browser.set_files("截图", proof)
    browser.fill("搜索", "考研")  # the focus is in the search field: Tab moves to the next field, the note
    browser.press("Tab")
    assert browser.active()["name"] == "note"
    browser.press("Tab", shift=True)
    assert browser.active()["name"] == "q"
    assert browser.text("div") == "深色背景上的白字"
    with pytest.raises(CdpError, match="no element with label '电话'"):
        browser.fill("电话", "1")
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in browser.cookies()] == [("seen", True, "Lax")]
    browser.click("保存")
    assert browser.status == 200
    sent = parse_qs(urlsplit(browser.url).query)
    assert (sent["name"], sent["stage"], sent["q"], sent["proof"], sent["r"]) == (
        ["王同学"],
        ["新客"],
        ["考研"],
        ["proof.png"],
        ["2"],
    )
    assert browser.text("h1").startswith("/echo?")
    browser.navigate(f"{site}/missing")
    assert browser.status == 404
    browser.clear_cookies()
    assert browser.cookies() == []
