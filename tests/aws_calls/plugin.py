"""The policy test as a pytest plugin: the functional suite records, the session's end checks (issue 12 §2).

Each process (each xdist worker, or the only one) writes what it recorded to test-artifacts/aws-calls/<worker>.json;
the controller (or the only process), once every worker has finished, checks them all against policies/, writes
test-artifacts/policy-report.md and fails the run on any call its function's policy does not allow. A run without
functional tests records nothing and checks nothing, and says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws_calls.check import Tally, check, report
from tests.aws_calls.policy import load_policies
from tests.aws_calls.recorder import RECORDER

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONAL = ROOT / "tests" / "functional"
CALLS_DIR = ROOT / "test-artifacts" / "aws-calls"
REPORT = ROOT / "test-artifacts" / "policy-report.md"
SHOWN = 20  # refused calls printed in the terminal (all are in the report)


class AwsCallsPlugin:
    def __init__(self, config: pytest.Config) -> None:
        workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        self.worker: str | None = workerinput.get("workerid")
        self.tally = Tally()
        self.summary: list[str] = []
        RECORDER.install()
        if self.worker is None:  # before any worker starts: this run's files only
            shutil.rmtree(CALLS_DIR, ignore_errors=True)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        functional = FUNCTIONAL in Path(str(item.path)).resolve().parents
        if functional:
            RECORDER.test = item.nodeid
            RECORDER.add(self.tally.add)
            self.tally.tests += 1
        try:
            yield
        finally:
            if functional:
                RECORDER.remove(self.tally.add)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.tally.outside = RECORDER.outside
        if self.tally.tests:
            self.tally.dump(CALLS_DIR / f"{self.worker or 'main'}.json")
        if self.worker is not None:
            return
        tally = Tally.load(sorted(CALLS_DIR.glob("*.json")))
        if not tally.calls:
            ran = f"{tally.tests} functional tests made no AWS call" if tally.tests else "no functional test ran"
            self.summary = [f"no AWS calls recorded ({ran}): no policy checked"]
            return
        result = check(tally, load_policies())
        REPORT.write_text(report(tally, result))
        self.summary = [
            f"{tally.calls} AWS calls ({len(tally.seen)} distinct) from {tally.tests} functional tests checked "
            f"against policies/; {len(result.denials)} refused; {len(result.unused)} grants unused "
            f"(listed in {REPORT.relative_to(ROOT)})",
            *(f"REFUSED {d.line()}" for d in result.denials[:SHOWN]),
            *(["..."] if len(result.denials) > SHOWN else []),
            *(f"unused in {name}: {'; '.join(grants)}" for name, grants in _by_file(result.unused).items()),
        ]
        if result.denials and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker is None and self.summary:
            terminalreporter.section("policy test (AWS calls vs policies/)")
            for line in self.summary:
                terminalreporter.write_line(line)


def _by_file(unused: list[str]) -> dict[str, list[str]]:
    """ "fire.json Sid: action" lines, one line per file."""
    out: dict[str, list[str]] = {}
    for line in unused:
        name, grant = line.split(" ", 1)
        out.setdefault(name, []).append(grant)
    return out
