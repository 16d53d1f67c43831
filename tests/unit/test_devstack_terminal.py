"""What `make run` shows and what it files away (devstack.terminal)."""

from __future__ import annotations

import io
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.clock import FileClock
from devstack import terminal

REQUEST = '127.0.0.1 - - [04/Dec/2026 18:16:52] "GET /t/demo/customers?phone=13800000000 HTTP/1.1" 200 -'
LOG = json.dumps({"level": "WARNING", "message": "request rejected", "service": "siyu", "code": "conflict"})
EMF = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "callbacks": [1.0]})


def _router(tmp_path: Path, *, verbose: bool = False) -> tuple[terminal.Router, io.StringIO]:
    shown = io.StringIO()
    return terminal.Router(tmp_path / "logs", shown, lambda: "[T]", verbose=verbose), shown


@pytest.mark.parametrize(
    ("line", "kind"),
    [(REQUEST, "request"), (LOG, "json"), (EMF, "metric"), ("Found credentials in environment variables.", "noise"),
     ("Override settings for pynamo not available /etc/pynamodb/global_default_settings.py", "noise"),
     ("Traceback (most recent call last):", "other"), ("{not json", "other"), ("devstack: provisioned", "other")],
)  # fmt: skip
def test_classify(line: str, kind: str) -> None:
    assert terminal.classify(line) == kind


def test_the_terminal_gets_requests_and_surprises_the_logs_get_the_json(tmp_path: Path) -> None:
    router, shown = _router(tmp_path)
    for line in (REQUEST, LOG, EMF, "Found credentials in environment variables.", "Traceback: boom"):
        router.route(line + "\n")
    router.close()
    assert shown.getvalue().splitlines() == ["devstack: [T] api: GET /t/demo/customers 200", "Traceback: boom"]
    assert "13800000000" not in shown.getvalue()  # a query may carry personal data: the path only
    logs = tmp_path / "logs"
    assert (logs / terminal.APP_LOG).read_text().splitlines() == [LOG]
    assert (logs / terminal.METRICS_LOG).read_text().splitlines() == [EMF]
    assert "Found credentials" in (logs / terminal.DEVSTACK_LOG).read_text()


def test_verbose_shows_everything_and_still_files_it(tmp_path: Path) -> None:
    router, shown = _router(tmp_path, verbose=True)
    for line in (REQUEST, LOG, EMF):
        router.route(line)
    router.close()
    assert shown.getvalue().splitlines() == [REQUEST, LOG, EMF]
    assert (tmp_path / "logs" / terminal.APP_LOG).read_text().splitlines() == [LOG]


def test_a_child_process_output_is_routed_line_by_line(tmp_path: Path) -> None:
    router, shown = _router(tmp_path)
    stream = io.BytesIO(f"Serving on http://127.0.0.1:8000\n{LOG}\n{REQUEST}\n".encode())
    router.follow(stream).join(timeout=5)
    router.close()
    assert shown.getvalue().splitlines() == [
        "Serving on http://127.0.0.1:8000",
        "devstack: [T] api: GET /t/demo/customers 200",
    ]


def test_stdout_lines_of_two_threads_never_mix(tmp_path: Path) -> None:
    router, shown = _router(tmp_path)
    writer = terminal.LineWriter(router)

    def say(word: str) -> None:
        for _ in range(200):
            writer.write(word)
            writer.write(" done\n")

    threads = [threading.Thread(target=say, args=(w,)) for w in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    router.close()
    assert sorted(set(shown.getvalue().splitlines())) == ["alpha done", "beta done"]


def test_install_routes_print_and_logging_and_undoes_it(tmp_path: Path) -> None:
    router, shown = _router(tmp_path)
    saved = sys.stdout
    undo = terminal.install(router)
    try:
        print(LOG)  # what the in-process handlers' Powertools logger does
        print("devstack: hello")
        import logging

        logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")
    finally:
        undo()
        router.close()
    assert sys.stdout is saved
    assert shown.getvalue().splitlines() == ["devstack: hello"]
    assert (tmp_path / "logs" / terminal.APP_LOG).read_text().splitlines() == [LOG]
    assert "Found credentials" in (tmp_path / "logs" / terminal.DEVSTACK_LOG).read_text()


def test_the_stamp_shows_the_tenants_time_beside_the_machines(tmp_path: Path) -> None:
    machine = datetime(2026, 12, 4, 18, 20, 3, tzinfo=UTC)
    clock = FileClock(tmp_path / "clock.json", real=lambda: machine)
    stamp = terminal.Stamp(clock, "Asia/Shanghai")
    assert stamp().startswith("[tenant 12-05 02:20:03 +08:00 | machine ")
    assert "the same instant" in stamp.long()
    clock.set(machine + timedelta(days=1, hours=2, minutes=5), running=False)
    assert stamp().startswith("[tenant 12-06 04:25:03 +08:00 | machine ")
    assert stamp.long().startswith("tenant 2026-12-06 04:25:03 Asia/Shanghai | machine 2026-12-04 ")
    assert stamp.long().endswith("(the stack's clock is 1 d 2 h 5 min ahead)")
