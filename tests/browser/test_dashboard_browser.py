"""The dashboard in headless Chromium on a phone's width (360 px): the page of a known scenario
(tests/fakes/metrics_view.py) served over loopback with the route's own headers (its CSP included), then read from
the browser's DOM as a person would check it, and photographed; the screenshot is kept in test-artifacts/."""

from __future__ import annotations

import json
import struct
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chalicelib.api.dashboard import PAGE_HEADERS
from chalicelib.web.dashboard import PageLinks, render
from tests.browser.cdp import Browser
from tests.browser.conftest import ROOT
from tests.fakes.metrics_view import VIEW
from tests.html_dom import Node, parse, table_cells

WIDTH, HEIGHT = 360, 2000
ARTIFACTS = ROOT / "test-artifacts"
KEY = "known-scenario-key"


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """The rendered page at http://127.0.0.1:<free port>/t/acme/dashboard, with the route's headers."""
    body = render(VIEW, links=PageLinks("acme", KEY)).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            for name, value in PAGE_HEADERS.items():
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
        yield f"http://127.0.0.1:{server.server_address[1]}/t/acme/dashboard?k={KEY}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def dom(chromium: str, page_url: str, tmp_path_factory: pytest.TempPathFactory) -> Node:
    run = _chromium(chromium, tmp_path_factory.mktemp("chromium-dom"), "--dump-dom", page_url)
    assert run.returncode == 0, run.stderr[-2000:]
    return parse(run.stdout)


def test_the_funnel_shows_the_scenarios_stages_and_conversions(dom: Node) -> None:
    stages = dom.one("section", id="funnel").one("svg").all("g", class_="stage")
    assert [g.attrs["data-key"] for g in stages] == ["exposures", "adds", "enrolled", "trial", "full"]
    assert [g.one("text", class_="value").text() for g in stages] == ["2,000", "400", "300", "60", "15"]
    assert [c.text() for g in stages for c in g.all("text", class_="conversion")] == [
        "↓ 20.0%",
        "↓ 75.0%",
        "↓ 20.0%",
        "↓ 25.0%",
    ]


def test_the_tables_show_cac_roi_and_lift(dom: Node) -> None:
    channels = table_cells(dom.one("section", id="table-channels"))
    assert [(r["channel"], r["cac"], r["roi"]) for r in channels] == [
        ("抖音广告", "¥50.00", "3"),
        ("门店海报", "¥50.00", "3.18"),
        ("转介绍", "—", "—"),
    ]
    steps = table_cells(dom.one("section", id="table-steps"))
    assert [r["lift"] for r in steps] == ["3.1%", "-1.2%", "—"]
    headlines = {d.attrs["data-key"]: d.one("div", class_="value").text() for d in dom.all("div", class_="headline")}
    assert headlines == {"cac": "¥50.00", "roi": "3.04", "conversion": "18.8%", "gmv": "¥60,894.00"}
    assert dom.one("p", id="as-of").text() == "数据截至 2026-12-01 10:00"


def test_every_table_scrolls_inside_its_own_box(dom: Node) -> None:
    tables = dom.all("table")
    assert len(tables) == 5  # the funnel's and the view's four
    for table in tables:
        assert any("scroll" in a.attrs.get("class", "").split() for a in table.ancestors())


@pytest.fixture(scope="module")
def phone(chromium: str, page_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """The page in Chromium emulating a phone 360 CSS px wide, served with the route's headers (its CSP too)."""
    browser = Browser(chromium, tmp_path_factory.mktemp("chromium-phone"))
    try:
        browser.open(page_url, width=WIDTH, height=HEIGHT)
        yield browser
    finally:
        browser.close()


LAYOUT = """JSON.stringify({
  viewport: document.documentElement.clientWidth,
  page: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  boxes: Array.from(document.querySelectorAll('.scroll'), e => ({
    overflows: e.scrollWidth > e.clientWidth,
    right: e.getBoundingClientRect().right,
    scrolls: getComputedStyle(e).overflowX
  })),
  styled: getComputedStyle(document.querySelector('.headline')).borderRadius
})"""


def test_the_page_is_no_wider_than_a_360_px_phone(phone: Browser) -> None:
    """The body never scrolls sideways; wide tables scroll inside their own box, which stays on the screen."""
    layout = json.loads(phone.evaluate(LAYOUT))
    assert layout["viewport"] == WIDTH
    assert layout["page"] <= WIDTH
    boxes = layout["boxes"]
    assert len(boxes) == 5 and all(b["scrolls"] == "auto" and b["right"] <= WIDTH for b in boxes)
    assert any(b["overflows"] for b in boxes)  # the channel table is wider than the phone: it scrolls in its box
    assert layout["styled"] == "8px"  # the inline stylesheet applied under the page's CSP


def test_a_screenshot_at_360_px_is_kept_as_an_artifact(phone: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-360.png"
    shot.unlink(missing_ok=True)
    phone.screenshot(shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 20_000  # a page was drawn, not a blank
