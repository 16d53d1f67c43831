"""`make run` refuses, in one sentence, a process that cannot sleep (libfaketime with FAKETIME_DONT_FAKE_MONOTONIC=1),
and tells a Java that does not answer apart from a missing one."""

from __future__ import annotations

import errno

import pytest

from devstack import dynamodb_install, run
from devstack.preflight import FAKETIME_MONOTONIC_ENV, sleep_problem


def _broken_sleep(seconds: float) -> None:
    raise OSError(errno.EINVAL, "Invalid argument")


def test_a_working_sleep_is_no_problem() -> None:
    slept: list[float] = []
    assert sleep_problem(slept.append, {}) is None
    assert slept == [0.001]


def test_a_failing_sleep_is_named_with_the_faketime_setting_that_causes_it() -> None:
    problem = sleep_problem(_broken_sleep, {FAKETIME_MONOTONIC_ENV: "1"})
    assert problem is not None
    assert "Invalid argument" in problem
    assert f"run faketime without {FAKETIME_MONOTONIC_ENV}" in problem


def test_a_failing_sleep_without_faketime_gets_no_faketime_advice() -> None:
    problem = sleep_problem(_broken_sleep, {})
    assert problem is not None
    assert "time.sleep fails" in problem
    assert "faketime" not in problem


def test_run_stops_before_starting_anything_when_sleep_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "sleep_problem", lambda: "time.sleep fails in this process (boom)")
    monkeypatch.setattr(run.StackConfig, "from_env", lambda **_: pytest.fail("the stack must not be configured"))
    assert run.main([]) == 2
    assert "devstack: time.sleep fails in this process (boom)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("which", "version", "found"),
    [
        (None, None, "no `java` on PATH"),
        ("/usr/bin/java", None, "`java -version` did not run"),
        ("/usr/bin/java", 11, "found Java 11"),
    ],
)
def test_java_missing_reason_tells_a_silent_java_from_a_missing_one(
    monkeypatch: pytest.MonkeyPatch, which: str | None, version: int | None, found: str
) -> None:
    monkeypatch.setattr(dynamodb_install.shutil, "which", lambda name: which)
    monkeypatch.setattr(dynamodb_install, "java_version", lambda: version)
    assert f"DynamoDB Local needs Java >= 17 ({found})." in dynamodb_install.java_missing_reason()
