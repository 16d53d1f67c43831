"""`make demo-week`'s command line: a clear message and no traceback when `make run` is not up on its ports; the
funnel's one-line summary (and an empty funnel noticed); the dashboard link and its fallback."""

from __future__ import annotations

import argparse
import random
import socket
from collections.abc import Mapping
from typing import Any

import pytest

from devstack import demo_week
from devstack.demo_activity import Week
from devstack.demo_setup import Answer, Endpoint, Setup
from devstack.demo_week import dashboard_link, read_back


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_it_says_to_start_make_run_when_the_stack_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()  # nothing listens there
    monkeypatch.setenv(demo_week.API_PORT, str(port))
    monkeypatch.setenv(demo_week.SANDBOX_PORT, str(_free_port()))
    assert demo_week.main(["--days", "1"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "make run" in err and "SIYU_API_PORT" in err


@pytest.mark.parametrize(("text", "expected"), [("20-60", (20, 60)), ("5", (5, 5))])
def test_scans_take_a_range(text: str, expected: tuple[int, int]) -> None:
    assert demo_week._scans(text) == expected


@pytest.mark.parametrize("text", ["0-3", "9-2", "a-b", "1-501"])
def test_bad_scan_ranges_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="--scans"):
        demo_week._scans(text)


def _week() -> Week:
    setup = Setup(channels=[], plan_id="pl_demo", chat_id="wr1", staff=["zhang"])
    week = Week("demo", "wwdemo", "tok", "secret", setup, random.Random(1), "dw1-0")
    week.first_date, week.last_date = "2026-12-06", "2026-12-12"
    return week


def _answering(status: int, answer: Any) -> Endpoint:
    def endpoint(
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        return Answer(status, answer)

    return endpoint


def test_an_empty_funnel_is_reported_empty_and_a_full_one_is_summed_up_in_one_line() -> None:
    empty = {"funnel": [{"key": "adds", "label": "添加好友", "value": 0}], "headlines": {"new": 0}, "tables": {}}
    assert read_back(_answering(200, empty), _week(), "pl_demo").empty
    full = {
        "funnel": [{"key": "adds", "label": "添加好友", "value": 40}],
        "headlines": {"new": 40, "cac": 20450, "roi": 0.69, "gmv": 3800730},
        "tables": {"plans": [{"plan_id": "pl_demo", "lift": 0.117, "lift_low": -0.006, "lift_high": 0.205,
                              "converted": 52, "enrolled": 215, "holdout_converted": 7, "holdout_enrolled": 56}]},
    }  # fmt: skip
    summary = read_back(_answering(200, full), _week(), "pl_demo")
    assert not summary.empty
    assert "new customers 40, CAC ¥204.50, ROI 0.69, GMV ¥38,007.30" in summary.line  # money comes in fen
    assert "plan lift +11.7% (95% -0.6%..+20.5%; treated 52/215, holdout 7/56)" in summary.line


def test_the_dashboard_link_falls_back_to_the_funnel_url_while_the_route_is_missing() -> None:
    made = dashboard_link(_answering(201, {"url": "/t/demo/dashboard?k=abc"}), "http://api", _week())
    assert made == "dashboard  http://api/t/demo/dashboard?k=abc"
    missing = dashboard_link(_answering(404, {"error": {"code": "not_found"}}), "http://api", _week())
    assert "answered 404" in missing and "http://api/t/demo/metrics/funnel?from=2026-12-06&to=2026-12-12" in missing
