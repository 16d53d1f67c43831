"""GET/POST /sandbox/clock over HTTP: the local stack's clock is shown, moved forwards with a catch-up summary, and
bad input, a move backwards and a stage that is not local are clear JSON refusals that leave the clock alone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.clock import FileClock
from devstack.sandbox import SandboxServer
from devstack.timewarp import ClockControl, Summary, parse_duration

START = datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC)  # 10:00:05 in Shanghai


class RecordingWalker:
    """Moves the clock as the Walker does, and records where to (the Walker itself is tested on its own)."""

    def __init__(self, clock: FileClock) -> None:
        self.clock = clock
        self.moves: list[datetime] = []

    def move_to(self, target: datetime) -> Summary:
        start = self.clock.now()
        self.moves.append(target)
        self.clock.freeze(target)
        summary = Summary(start, target, schedules_fired=2, tasks=3)
        summary.job_runs.update({"backstop": 1})
        return summary


@pytest.fixture
def clock(tmp_path: Path) -> FileClock:
    clock = FileClock(tmp_path / "clock.json")
    clock.freeze(START)
    return clock


@pytest.fixture
def served(clock: FileClock) -> Iterator[tuple[SandboxServer, RecordingWalker]]:
    walker = RecordingWalker(clock)
    server = SandboxServer(clock=ClockControl(walker, clock, stage="local", timezone="Asia/Shanghai")).start()
    try:
        yield server, walker
    finally:
        server.stop()


def _call(server: SandboxServer, method: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{server.base_url}/sandbox/clock", data=data, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_get_shows_the_stack_clock_in_the_tenant_zone_beside_the_machines(
    served: tuple[SandboxServer, RecordingWalker],
) -> None:
    status, body = _call(served[0], "GET")
    assert status == 200
    assert body["now"] == "2026-12-01T10:00:05+08:00" and body["timezone"] == "Asia/Shanghai"
    assert body["unix"] == int(START.timestamp())  # what X-Siyu-Timestamp must be near
    assert body["running"] is False and body["movable"] is True and body["stage"] == "local"
    assert datetime.fromisoformat(body["machine"]).tzinfo is not None


@pytest.mark.parametrize(
    ("body", "target"),
    [({"advance": "PT10H"}, START + timedelta(hours=10)),
     ({"advance": "P1DT30M"}, START + timedelta(days=1, minutes=30)),
     ({"to": "2026-12-05T08:00:00+08:00"}, datetime(2026, 12, 5, 0, 0, tzinfo=UTC))],
)  # fmt: skip
def test_post_moves_the_clock_and_answers_the_catch_up_summary(
    served: tuple[SandboxServer, RecordingWalker], clock: FileClock, body: dict[str, str], target: datetime
) -> None:
    server, walker = served
    status, answer = _call(server, "POST", body)
    assert status == 200, answer
    assert walker.moves == [target] and clock.now() == target
    assert answer["from"] == "2026-12-01T10:00:05+08:00"
    assert datetime.fromisoformat(answer["to"]) == target and answer["to"].endswith("+08:00")
    assert (answer["schedules_fired"], answer["tasks_created"], answer["job_runs"]) == (2, 3, {"backstop": 1})
    assert answer["clock"]["unix"] == int(target.timestamp())


@pytest.mark.parametrize(
    "body",
    [{"advance": "10 hours"}, {"advance": "P1Y"}, {"advance": "PT"}, {"advance": "-PT1H"}, {"advance": 36000},
     {"to": "2026-12-05T08:00:00"}, {"to": "tomorrow"}, {"to": "2026-12-05"}, {}, {"advance": "PT1H", "to": "x"},
     {"advance": "PT1H", "speed": 2}, {"advance": "P32D"}, b"not json", b"[1]",
     {"advance": "P9999999999D"}, {"advance": "P999999999D"}, {"advance": "PT" + "9" * 400 + "S"},
     {"to": "9999-12-31T23:59:59-12:00"}, {"to": "0001-01-01T00:00:00+14:00"}, {"to": "9999-12-31T23:59:59+00:00"}],
)  # fmt: skip
def test_bad_input_is_a_400_and_moves_nothing(
    served: tuple[SandboxServer, RecordingWalker], clock: FileClock, body: Any
) -> None:
    status, answer = _call(served[0], "POST", body)
    assert status == 400 and answer["error"]["code"] == "invalid_request" and answer["error"]["message"]
    assert served[1].moves == [] and clock.now() == START


def test_backwards_is_a_409_and_moves_nothing(served: tuple[SandboxServer, RecordingWalker], clock: FileClock) -> None:
    status, answer = _call(served[0], "POST", {"to": "2026-12-01T09:00:00+08:00"})
    assert status == 409 and answer["error"]["code"] == "clock_moved_back"
    assert "never moves backwards" in answer["error"]["message"]
    assert served[1].moves == [] and clock.now() == START


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_a_stage_that_is_not_local_refuses_with_403(clock: FileClock, stage: str) -> None:
    walker = RecordingWalker(clock)
    server = SandboxServer(clock=ClockControl(walker, clock, stage=stage, timezone="Asia/Shanghai")).start()
    try:
        status, answer = _call(server, "POST", {"advance": "PT10H"})
        assert status == 403 and answer["error"]["code"] == "clock_not_movable" and stage in answer["error"]["message"]
        assert walker.moves == [] and clock.now() == START
        assert _call(server, "GET")[1]["movable"] is False
    finally:
        server.stop()


def test_a_sandbox_without_the_stacks_clock_refuses_with_403() -> None:
    server = SandboxServer().start()
    try:
        for method, body in (("GET", None), ("POST", {"advance": "PT1H"})):
            status, answer = _call(server, method, body)
            assert status == 403 and answer["error"]["code"] == "forbidden"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("text", "delta"),
    [("PT10H", timedelta(hours=10)), ("P1D", timedelta(days=1)), ("P1W", timedelta(weeks=1)),
     ("PT90M", timedelta(minutes=90)), ("PT0.5S", timedelta(seconds=0.5)),
     ("P2DT3H4M5S", timedelta(days=2, hours=3, minutes=4, seconds=5))],
)  # fmt: skip
def test_iso_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta
