"""The local stack's one movable clock: the Walker fires what became due in time order (moto's Scheduler, a stand-in
app), the pump's tick catches up without moving it, and a deployed stage never reads the clock file."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.clock import ClockMovedBackError, FileClock, SystemClock
from chalicelib.adapters.dynamodb import models
from chalicelib.settings import Settings
from devstack import jobs
from devstack.local_pump import start_pump
from devstack.pump import SchedulerPump, due_time
from devstack.timewarp import Walker

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
GROUP = "g"


class FakeApp:
    """Lambda-style handlers that record the stack's clock when they run; a fire may schedule the next step."""

    def __init__(self, clock: FileClock, scheduler: Any, sources: list[Any]) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.app = SimpleNamespace(event_sources=sources)
        self.fired: list[tuple[str, datetime]] = []
        self.runs: list[tuple[str, datetime]] = []
        self.then: dict[str, tuple[str, datetime]] = {}  # bucket -> (next bucket, its due) made when it fires
        self.broken: set[str] = set()

    def fire(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        bucket = event["bucket_id"]
        if bucket in self.broken:
            raise RuntimeError("down")
        self.fired.append((bucket, self.clock.now()))
        if bucket in self.then:
            schedule(self.scheduler, *self.then[bucket])
        return {"tasks": 1}

    def __getattr__(self, name: str) -> Any:
        def handler(event: Any, context: Any) -> dict[str, Any]:
            self.runs.append((name, self.clock.now()))
            assert event["time"] == self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            return {}

        return handler


def schedule(client: Any, name: str, due: datetime) -> None:
    local = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    client.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=f"at({local})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": "arn:aws:lambda:us-east-1:0:function:f", "RoleArn": "arn:aws:iam::0:role/r",
                "Input": json.dumps({"tenant_id": "demo", "bucket_id": name})},
    )  # fmt: skip


def _source(name: str, minutes: int) -> SimpleNamespace:
    return SimpleNamespace(name=name, handler_string=f"app.{name}", schedule_expression=f"rate({minutes} minutes)")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SimpleNamespace]:
    with mock_aws():
        client = boto3.client("scheduler", region_name="us-east-1")
        client.create_schedule_group(Name=GROUP)
        clock = FileClock(tmp_path / "clock.json")
        clock.freeze(START)
        app = FakeApp(clock, client, [_source("backstop", 5), _source("task_sync", 10)])
        handlers = jobs.Handlers(modules={})
        handlers._app = app
        lines: list[str] = []
        periodic = jobs.PeriodicJobs(handlers, lines.append, clock.epoch)
        pump = SchedulerPump(client, GROUP, fire=handlers.fire, backstop=periodic, now=clock.now, log=lines.append)
        periodic.run_due(clock.epoch())  # what start_pump does at start
        app.runs.clear()
        yield SimpleNamespace(client=client, clock=clock, app=app, walker=Walker(pump, periodic, clock), lines=lines)


def test_a_move_fires_every_schedule_at_its_own_minute_in_time_order(stack: SimpleNamespace) -> None:
    at = {n: START + timedelta(hours=h) for n, h in (("b3", 3), ("b1", 1), ("b2", 2), ("b9", 9), ("late", 11))}
    for name in ("b3", "b1", "b9", "late"):
        schedule(stack.client, name, at[name])
    stack.app.then["b1"] = ("b2", at["b2"])  # the fire at 11:00 schedules the next step, due during the same walk

    summary = stack.walker.move_to(START + timedelta(hours=10))

    assert stack.app.fired == [("b1", at["b1"]), ("b2", at["b2"]), ("b3", at["b3"]), ("b9", at["b9"])]
    assert stack.clock.now() == START + timedelta(hours=10)  # and it stays frozen, as it was
    assert [s["Name"] for s in stack.client.list_schedules(GroupName=GROUP)["Schedules"]] == ["late"]
    assert (summary.started, summary.ended) == (START, START + timedelta(hours=10))
    assert summary.schedules_fired == 4 and summary.tasks == 4 and summary.coalesced
    assert any(line.startswith("clock moved 10 h ahead: 4 schedule(s) fired, 4 task(s); job runs: backstop")
               for line in stack.lines)  # fmt: skip


def test_a_long_move_runs_each_periodic_job_at_most_once_per_virtual_hour(stack: SimpleNamespace) -> None:
    summary = stack.walker.move_to(START + timedelta(days=1))
    for name in ("backstop", "task_sync"):
        times = [t for n, t in stack.app.runs if n == name]
        assert 23 <= len(times) <= 24, times
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
        assert all(t.minute == 0 and t.second == 0 for t in times)  # on the hour of the virtual time
        assert times == sorted(times) and times[-1] <= START + timedelta(days=1)
    assert summary.job_runs["backstop"] == len([n for n, _ in stack.app.runs if n == "backstop"])


def test_a_short_move_runs_the_jobs_at_their_own_rates(stack: SimpleNamespace) -> None:
    stack.walker.move_to(START + timedelta(minutes=20))
    backstop = [t - START for n, t in stack.app.runs if n == "backstop"]
    task_sync = [t - START for n, t in stack.app.runs if n == "task_sync"]
    assert backstop == [timedelta(minutes=m) for m in (5, 10, 15, 20)]
    assert task_sync == [timedelta(minutes=m) for m in (10, 20)]


def test_the_clock_never_moves_backwards(stack: SimpleNamespace) -> None:
    stack.walker.move_to(START + timedelta(hours=1))
    with pytest.raises(ClockMovedBackError):
        stack.walker.move_to(START + timedelta(minutes=30))
    assert stack.clock.now() == START + timedelta(hours=1)


def test_the_pumps_tick_catches_up_without_moving_the_clock(stack: SimpleNamespace) -> None:
    schedule(stack.client, "due", START - timedelta(minutes=3))
    schedule(stack.client, "later", START + timedelta(minutes=1))
    stack.walker.catch_up()
    assert [name for name, _ in stack.app.fired] == ["due"] and stack.clock.now() == START
    stack.clock.freeze(START + timedelta(minutes=6))  # time passed (a running clock does this by itself)
    stack.walker.catch_up()
    assert [name for name, _ in stack.app.fired] == ["due", "later"]
    assert [n for n, _ in stack.app.runs].count("backstop") == 1  # its 5 minutes came round once


def test_a_failing_fire_does_not_stall_the_walk(stack: SimpleNamespace) -> None:
    schedule(stack.client, "bad", START + timedelta(minutes=2))
    schedule(stack.client, "good", START + timedelta(minutes=4))
    stack.app.broken.add("bad")
    summary = stack.walker.move_to(START + timedelta(minutes=6))
    assert [name for name, _ in stack.app.fired] == ["good"] and summary.schedules_fired == 1
    assert any("fire failed for bad" in line for line in stack.lines)
    names = [s["Name"] for s in stack.client.list_schedules(GroupName=GROUP)["Schedules"]]
    assert names == ["bad"]  # kept for the backstop, as a Scheduler retry would


def test_a_running_clock_stays_running_after_a_move(stack: SimpleNamespace) -> None:
    stack.clock.set(START, running=True)
    stack.walker.move_to(START + timedelta(hours=2))
    state = stack.clock.state()
    assert state is not None and state.real_anchor is not None
    assert stack.clock.now() >= START + timedelta(hours=2)


def test_the_pump_fires_in_due_order(stack: SimpleNamespace) -> None:
    for name, minutes in (("c", 3), ("a", 1), ("b", 2)):
        schedule(stack.client, name, START - timedelta(minutes=10 - minutes))
    pump = stack.walker.pump
    assert [p.name for p in pump.pending()] == ["a", "b", "c"]
    assert pump.run_once() == 3 and [name for name, _ in stack.app.fired] == ["a", "b", "c"]
    assert due_time("at(2026-12-01T10:00:00)", "Asia/Shanghai") == START


# --------------------------------------------------------------------------- only the local stage reads the file


@pytest.mark.parametrize(("stage", "movable"), [("local", True), ("prod", False), ("dev", False)])
def test_the_bootstrap_reads_the_clock_file_only_in_the_local_stage(
    stage: str, movable: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FileClock(tmp_path / "clock.json")
    clock.freeze(START + timedelta(days=400))  # far from the machine's time, so the two cannot be confused
    monkeypatch.setenv("SIYU_STAGE", stage)
    monkeypatch.setenv("SIYU_CLOCK_FILE", str(clock.path))
    monkeypatch.setenv("SIYU_DYNAMODB_ENDPOINT", "http://127.0.0.1:9")  # never called: building connects nowhere
    bootstrap.reset()
    try:
        built = bootstrap.services().clock
        assert Settings.from_env().movable_clock == (str(clock.path) if movable else None)
        if movable:
            assert isinstance(built, FileClock) and built.now() == START + timedelta(days=400)
        else:
            assert isinstance(built, SystemClock) and abs(built.now() - SystemClock().now()) < timedelta(minutes=1)
    finally:
        bootstrap.reset()
        models._configured.clear()  # the models pointed at the dummy endpoint: the next user configures afresh


def test_a_failing_tick_is_said_once_until_it_changes(tmp_path: Path) -> None:
    """While app.py does not import (mid-edit), the pump would fail every 5 seconds: it says so once."""

    class Broken(jobs.Handlers):
        error = "invalid syntax (app.py, line 3)"

        def periodic(self) -> list[jobs.PeriodicJob]:
            raise SyntaxError(self.error)

    with mock_aws(), contextlib.ExitStack() as exits:
        client = boto3.client("scheduler", region_name="us-east-1")
        client.create_schedule_group(Name=GROUP)
        clock = FileClock(tmp_path / "clock.json")
        clock.freeze(START)
        lines: list[str] = []
        handlers = Broken(modules={})
        settings = Settings(schedule_group=GROUP)
        walker = start_pump(settings, client, exits, handlers, clock=clock, log=lines.append, interval=3600)
        assert lines == ["pump: the periodic jobs did not run at start: SyntaxError: invalid syntax (app.py, line 3)"]
        for _ in range(3):
            walker.pump.tick()
        assert lines[1:] == ["pump: SyntaxError: invalid syntax (app.py, line 3) (said once; the pump keeps trying)"]
        handlers.error = "invalid syntax (app.py, line 4)"
        walker.pump.tick()
        assert len(lines) == 3 and "line 4" in lines[-1]


def test_an_hour_long_move_is_not_coalesced_even_after_the_pump_fell_behind(stack: SimpleNamespace) -> None:
    stack.clock.freeze(START + timedelta(seconds=4))  # the pump's last tick saw START: it is 4 s behind
    summary = stack.walker.move_to(START + timedelta(hours=1, seconds=4))
    assert not summary.coalesced
    assert [n for n, _ in stack.app.runs].count("backstop") == 12  # every 5 minutes, as if the hour had passed
