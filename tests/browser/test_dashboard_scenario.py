"""The dashboard of the hand-computed day (tests/fixtures/metrics_scenario.json), end to end: the scenario is played
through the services, the page is rendered from the real metrics read, and headless Chromium shows the figures a
person would check against the fixture's expected values (the funnel, CAC and ROI per channel, the headlines)."""

from __future__ import annotations

import subprocess

import pytest

from chalicelib.web.dashboard import PageLinks, render
from tests.html_dom import Node, parse, table_cells
from tests.unit.test_metrics_scenario import DAY, play


@pytest.fixture(scope="module")
def dom(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Node:
    view = play().view()
    assert view.date_from == view.date_to == DAY
    folder = tmp_path_factory.mktemp("scenario")
    page = folder / "dashboard.html"
    page.write_text(render(view, links=PageLinks("unit", "scenario-key")), encoding="utf-8")
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={folder / 'profile'}", "--dump-dom", page.as_uri()]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return parse(run.stdout)


def test_the_funnel_is_the_days_exposures_adds_and_buyers(dom: Node) -> None:
    stages = dom.one("section", id="funnel").one("svg").all("g", class_="stage")
    assert [g.one("text", class_="value").text() for g in stages] == ["500", "6", "2", "2"]


def test_each_channel_shows_its_hand_computed_cac_and_roi(dom: Node) -> None:
    rows = {r["name"]: r for r in table_cells(dom.one("section", id="table-channels"))}
    assert (rows["抖音直播间"]["cac"], rows["抖音直播间"]["roi"], rows["抖音直播间"]["add_rate"]) == (
        "¥500.00",
        "1.99",
        "1.0%",
    )
    assert (rows["公众号推文"]["cac"], rows["公众号推文"]["roi"], rows["公众号推文"]["revenue"]) == (
        "¥250.00",
        "7.96",
        "¥3,980.00",
    )


def test_the_headlines_say_the_days_totals(dom: Node) -> None:
    shown = {d.attrs["data-key"]: d.one("div", class_="value").text() for d in dom.all("div", class_="headline")}
    assert (shown["new"], shown["gmv"], shown["conversion"], shown["cac"]) == ("6", "¥7,969.90", "50.0%", "¥416.67")
