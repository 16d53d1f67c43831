"""`make demo-week`'s command line: a clear message and no traceback when `make run` is not up on its ports."""

from __future__ import annotations

import argparse
import socket

import pytest

from devstack import demo_week


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
