"""The local stack's one movable clock (FileClock): shared through a file, frozen or running, never backwards, and
never used by a deployed stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.clock import ClockMovedBackError, FileClock
from chalicelib.settings import Settings
from tests.fakes import FixedClock

REAL = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def _clock(path: Path, real: FixedClock) -> FileClock:
    return FileClock(path, real=real.now)


def test_without_a_file_it_is_the_real_time(tmp_path: Path) -> None:
    real = FixedClock(REAL)
    assert _clock(tmp_path / "clock.json", real).now() == REAL


def test_a_running_clock_keeps_its_offset_and_every_reader_sees_a_move(tmp_path: Path) -> None:
    real = FixedClock(REAL)
    writer, reader = _clock(tmp_path / "clock.json", real), _clock(tmp_path / "clock.json", real)
    target = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    writer.set(target)
    assert reader.now() == target
    real.advance(seconds=90)  # a running clock ticks with the machine
    assert reader.now() == target + timedelta(seconds=90)
    writer.set(reader.now() + timedelta(hours=10))
    assert reader.now() == target + timedelta(hours=10, seconds=90)  # the second write is seen at once


def test_it_never_moves_backwards(tmp_path: Path) -> None:
    clock = _clock(tmp_path / "clock.json", FixedClock(REAL))
    clock.set(REAL + timedelta(days=1))
    with pytest.raises(ClockMovedBackError):
        clock.set(REAL + timedelta(hours=23))
    with pytest.raises(ClockMovedBackError):
        clock.set(REAL)  # not even to the machine's own time
    assert clock.now() == REAL + timedelta(days=1)


def test_a_frozen_clock_stands_still(tmp_path: Path) -> None:
    real = FixedClock(REAL)
    clock = _clock(tmp_path / "clock.json", real)
    clock.freeze(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    real.advance(hours=3)
    assert clock.now() == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert clock.real_now() == REAL + timedelta(hours=3)


def test_a_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        _clock(tmp_path / "clock.json", FixedClock(REAL)).set(datetime(2026, 12, 5, 8, 0))


def test_only_the_local_stage_reads_the_clock_file() -> None:
    env = {"SIYU_CLOCK_FILE": "/tmp/clock.json"}
    assert Settings.from_env(env).movable_clock == "/tmp/clock.json"
    assert Settings.from_env({**env, "SIYU_STAGE": "prod"}).movable_clock is None  # deployed: the real time
