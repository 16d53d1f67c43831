"""The dashboard page rendered from a known MetricsView (tests/fakes/metrics_view.py): every figure as a person reads
it, the funnel's SVG, the tables' boxes and exports, the form, and nothing that loads from elsewhere."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.metrics.view import COUNT, MONEY, NUMBER, RATE, SECONDS, TEXT, FunnelStage, Point, Series
from chalicelib.web import format as fmt
from chalicelib.web.dashboard import PageLinks, render, render_error
from tests.fakes.metrics_view import VIEW
from tests.html_dom import Node, parse, table_cells

LINKS = PageLinks("acme", "key-123", "week")


@pytest.fixture(scope="module")
def page() -> Node:
    return parse(render(VIEW, links=LINKS))


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (1234, COUNT, "1,234"),
        (1234567.0, COUNT, "1,234,567"),
        (0, COUNT, "0"),
        (0.123, RATE, "12.3%"),
        (0.1875, RATE, "18.8%"),
        (-0.012, RATE, "-1.2%"),
        (1, RATE, "100.0%"),
        (1234, MONEY, "¥12.34"),
        (6_089_400, MONEY, "¥60,894.00"),
        (-250, MONEY, "-¥2.50"),
        (45, SECONDS, "45秒"),
        (65, SECONDS, "1分05秒"),
        (7380, SECONDS, "2小时3分"),
        (3.0447, NUMBER, "3.04"),
        (3.0, NUMBER, "3"),
        ("抖音广告", TEXT, "抖音广告"),
        (None, RATE, "—"),
        (None, MONEY, "—"),
        (None, TEXT, "—"),
    ],
)
def test_a_cell_is_shown_by_its_kind(value: float | str | None, kind: str, shown: str) -> None:
    assert fmt.cell(value, kind) == shown


def test_the_funnel_shows_each_stage_its_value_and_the_conversion_from_the_stage_before(page: Node) -> None:
    svg = page.one("section", id="funnel").one("svg")
    assert svg.attrs["viewbox"].startswith("0 0 360 ") and svg.attrs["width"] == "100%"
    stages = {g.attrs["data-key"]: g for g in svg.all("g", class_="stage")}
    assert list(stages) == ["exposures", "adds", "enrolled", "trial", "full"]
    assert [g.one("text", class_="value").text() for g in stages.values()] == ["2,000", "400", "300", "60", "15"]
    conversions = [g.all("text", class_="conversion") for g in stages.values()]
    assert conversions[0] == []  # the first stage has none
    assert [c[0].text() for c in conversions[1:]] == ["↓ 20.0%", "↓ 75.0%", "↓ 20.0%", "↓ 25.0%"]
    widths = [float(g.one("rect").attrs["width"]) for g in stages.values()]
    assert widths[0] == fmt.BAR_MAX and widths[1] == pytest.approx(fmt.BAR_MAX / 5)  # proportional to the largest
    assert all(w + fmt.LABEL_WIDTH + 4 < 360 - 20 for w in widths)  # room for the value after every bar
    table = page.one("table", id="funnel-table")
    assert [[td.text() for td in tr.all("td")] for tr in table.one("tbody").all("tr")][1] == ["添加", "400", "20.0%"]


def test_a_funnel_over_zero_shows_no_conversion_and_a_sliver() -> None:
    drawn = fmt.funnel((FunnelStage("exposures", "曝光", 0), FunnelStage("adds", "添加", 0)))
    assert [b.conversion for b in drawn.bars] == [None, "—"]
    assert [b.width for b in drawn.bars] == [2.0, 2.0]


def test_headlines_are_formatted_by_kind(page: Node) -> None:
    cards = {d.attrs["data-key"]: d.one("div", class_="value").text() for d in page.all("div", class_="headline")}
    assert cards == {"cac": "¥50.00", "roi": "3.04", "conversion": "18.8%", "gmv": "¥60,894.00"}


def test_the_channel_table_shows_cac_and_roi(page: Node) -> None:
    rows = table_cells(page.one("section", id="table-channels"))
    assert rows[0] == {
        "channel": "抖音广告",
        "exposures": "1,500",
        "adds": "300",
        "add_rate": "20.0%",
        "spend": "¥15,000.00",
        "cac": "¥50.00",
        "revenue": "¥45,000.00",
        "roi": "3",
    }
    assert rows[1]["roi"] == "3.18"
    assert rows[2] == {**rows[2], "add_rate": "—", "cac": "—", "roi": "—"}


def test_the_step_table_shows_lift_and_the_staff_table_latencies(page: Node) -> None:
    steps = table_cells(page.one("section", id="table-steps"))
    assert [r["lift"] for r in steps] == ["3.1%", "-1.2%", "—"]
    assert steps[0]["delivered"] == "1,234"
    staff = table_cells(page.one("section", id="table-staff"))
    assert [(r["latency_p50"], r["latency_p90"]) for r in staff] == [("1分05秒", "2小时3分"), ("45秒", "—")]
    assert table_cells(page.one("section", id="table-groups"))[0]["messages_per_member"] == "3.50"


def test_every_table_scrolls_in_its_own_box_and_links_its_csv_export(page: Node) -> None:
    sections = page.all("section", class_="table")
    assert [s.attrs["data-key"] for s in sections] == ["channels", "steps", "groups", "staff"]
    for table in page.all("table"):
        assert any("scroll" in a.attrs.get("class", "").split() for a in table.ancestors()), table.attrs
    for section in sections:
        href = section.one("a", class_="export").attrs["href"]
        url = urlsplit(href)
        assert url.path == f"/t/acme/dashboard/export/{section.attrs['data-key']}.csv"
        assert parse_qs(url.query) == {
            "from": ["2026-11-25"],
            "to": ["2026-12-01"],
            "by": ["channel"],
            "k": ["key-123"],
        }


def test_the_filter_form_keeps_the_key_and_shows_the_query(page: Node) -> None:
    form = page.one("form", id="filters")
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/t/acme/dashboard"
    inputs = {i.attrs["name"]: i.attrs for i in form.all("input")}
    assert inputs["k"] == {**inputs["k"], "type": "hidden", "value": "key-123"}
    assert inputs["from"]["value"] == "2026-11-25" and inputs["to"]["value"] == "2026-12-01"
    selected = {s.attrs["name"]: s.one("option", selected="").attrs["value"] for s in form.all("select")}
    assert selected == {"by": "channel", "period": "week"}
    assert page.one("p", id="as-of").text() == "数据截至 2026-12-01 10:00"
    assert "2026-11-25 至 2026-12-01" in page.one("p", id="range").text()


def test_trends_are_sparklines_with_their_first_and_last_values(page: Node) -> None:
    trends = {t.attrs["data-key"]: t for t in page.all("div", class_="trend")}
    adds, cac, gmv = trends["adds"], trends["cac"], trends["gmv"]
    assert adds.one("span", class_="first").text() == "2026-11-25 40"
    assert adds.one("span", class_="last").text() == "2026-12-01 64"
    assert len(adds.all("polyline")) == 1 and len(adds.one("polyline").attrs["points"].split()) == 7
    assert len(cac.all("polyline")) == 2  # broken where a day has no value
    assert cac.one("span", class_="last").text() == "2026-12-01 ¥50.50"
    assert gmv.all("svg") == [] and gmv.one("p", class_="empty").text() == "无数据"


def test_a_sparkline_spans_its_own_range() -> None:
    line = fmt.sparkline(Series("x", "x", COUNT, (Point("a", 10), Point("b", 20), Point("c", None), Point("d", 15))))
    assert line.segments == ("3.0,37.0 67.7,3.0",)
    assert line.dots == ((197.0, 20.0),)
    flat = fmt.sparkline(Series("y", "y", RATE, (Point("a", 0.5),)))
    assert flat.dots == ((100.0, 37.0),) and flat.first == flat.last == "a 50.0%"


def test_text_from_the_view_is_escaped() -> None:
    hostile = replace(VIEW, tenant_name='<script>alert("x")</script>', funnel=())
    html = render(hostile, links=PageLinks("acme", 'k"><script>'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert parse(html).one("section", id="funnel").one("p", class_="empty").text() == "此范围内没有数据。"


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script(page: Node) -> None:
    html = render(VIEW, links=LINKS)
    assert page.all("script") == [] and page.all("link") == [] and page.all("img") == []
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)  # the SVG namespace is a name, not a load
    assert not re.search(r"\bon[a-z]+=", html)  # no inline event handlers
    assert page.one("meta", name="viewport").attrs["content"] == "width=device-width, initial-scale=1"


def test_an_error_page_says_what_is_wrong() -> None:
    page = parse(render_error(400, "开始日期不能晚于结束日期"))
    assert page.one("h1").text() == "查询参数有误"
    assert page.one("p", id="error-message").text() == "开始日期不能晚于结束日期"
    assert parse(render_error(403, "此看板链接已过期。")).one("h1").text() == "链接无效或已过期"


def test_import_app_does_not_load_jinja2() -> None:
    """A cold start that answers a health check never pays for the template engine."""
    lazy = ("jinja2", "markupsafe", "chalicelib.web.dashboard")
    probe = f"import sys, app; print(sorted(m for m in {lazy!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "[]", run.stdout


def test_a_funnel_for_one_value_says_which_and_its_exports_keep_it() -> None:
    one = parse(render(replace(VIEW, dimension_value="抖音广告"), links=PageLinks("acme", "key-123", value="抖音广告")))
    assert "维度：渠道（抖音广告）" in one.one("p", id="range").text()
    href = one.one("section", id="table-channels").one("a", class_="export").attrs["href"]
    assert parse_qs(urlsplit(href).query)["value"] == ["抖音广告"]
    assert [i.attrs["name"] for i in one.one("form").all("input")] == ["k", "from", "to"]  # the form shows all again
