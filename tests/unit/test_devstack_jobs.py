"""The app's Lambda entry points as the local pump runs them (devstack.jobs): handlers, periodic jobs, lines."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from devstack import jobs


def test_describe_fire_names_tasks_outcomes_and_reasons() -> None:
    report = {"bucket_id": "b", "sent": 2, "skipped": 1, "dropped": 0, "moved": 0, "failed": 0, "tasks": 1,
              "reasons": {"enrollment_ended": 1}}  # fmt: skip
    assert jobs.describe_fire("b", report) == (
        "pump: bucket b: 1 task(s); touches 2 sent, 1 skipped, 0 dropped, 0 moved, 0 failed (enrollment_ended: 1)"
    )
    assert jobs.describe_fire("b", {"reasons": None}).endswith("0 failed")
    fanned = jobs.describe_fire("b", {"shards": 3, "sent": 0})
    assert fanned == "pump: bucket b: fanned out into 3 shard(s), fired on threads"


def test_the_fire_wrapper_logs_and_passes_the_report_through() -> None:
    lines: list[str] = []
    fire = jobs.fire_and_report(lambda event: {"tasks": 1, "sent": 3}, lines.append)
    assert fire({"tenant_id": "demo", "bucket_id": "b1"}) == {"tasks": 1, "sent": 3}
    assert lines == ["pump: bucket b1: 1 task(s); touches 3 sent, 0 skipped, 0 dropped, 0 moved, 0 failed"]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(5 minutes)", 300.0), ("rate(1 minute)", 60.0), ("rate(2 hours)", 7200.0), ("rate(1 day)", 86400.0),
     ("cron(0 12 * * ? *)", None)],
)  # fmt: skip
def test_rate_seconds(expression: str, seconds: float | None) -> None:
    assert jobs.rate_seconds(expression) == seconds


def test_rate_seconds_reads_chalice_rates() -> None:
    from chalice import Cron, Rate

    assert jobs.rate_seconds(Rate(10, unit=Rate.MINUTES)) == 600.0
    assert jobs.rate_seconds(Cron(0, 12, "*", "*", "?", "*")) is None


def test_the_apps_periodic_jobs_are_found_with_their_rates() -> None:
    """app.py's @app.schedule jobs as the pump sees them: the backstop every 5 minutes, each with a handler."""
    import app as app_module

    handlers = jobs.Handlers()
    handlers._app = app_module  # already imported by this process: no purge, no re-import
    found = {job.name: job for job in handlers.periodic()}
    assert found["backstop"] == jobs.PeriodicJob("backstop", "backstop", 300.0)
    for job in found.values():
        assert callable(getattr(app_module, job.attribute))


def test_a_scheduled_event_is_what_chalice_hands_a_schedule_handler() -> None:
    from chalice.app import CloudWatchEvent

    event = jobs.scheduled_event("backstop", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    parsed = CloudWatchEvent(event, None)
    assert (parsed.detail_type, parsed.source, parsed.time) == ("Scheduled Event", "aws.events", "2026-12-01T12:00:00Z")
    assert parsed.resources == ["arn:aws:events:us-east-1:000000000000:rule/siyu-local-backstop"]


def test_describe_job_speaks_only_when_a_job_did_something() -> None:
    assert jobs.describe_job("backstop", {"buckets_fired": 0}) is None
    assert jobs.describe_job("backstop", {"buckets_fired": 2}) == "pump: backstop fired 2 overdue bucket(s)"
    assert jobs.describe_job("task_sync", {"tenants": 1, "checked": 0, "sent": 0}) is None
    assert jobs.describe_job("task_sync", {"tenants": 1, "checked": 8, "sent": 0}) is None  # looked, did nothing
    assert jobs.describe_job("task_sync", {"tenants": 1, "checked": 2, "sent": 1, "errors": 0}) == (
        "pump: task_sync: tenants 1, checked 2, sent 1"
    )
    assert jobs.describe_job("x", None) is None


def test_describe_jobs_for_the_banner() -> None:
    listed = [jobs.PeriodicJob("backstop", "backstop", 300.0), jobs.PeriodicJob("nightly", "nightly", None)]
    assert jobs.describe_jobs(listed) == "backstop every 5 min, nightly cron: not run locally"
    assert jobs.describe_jobs([]) == "none"


class _App:
    """A stand-in for the app module: Lambda-style handlers and the Chalice app's event sources."""

    def __init__(self, sources: list[Any]) -> None:
        self.app = SimpleNamespace(event_sources=sources)
        self.calls: list[tuple[str, Any, Any]] = []

    def fire(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(("fire", event, context))
        return {"tasks": 0}

    def __getattr__(self, name: str) -> Any:
        def handler(event: Any, context: Any) -> Any:
            self.calls.append((name, event, context))
            if name == "broken":
                raise RuntimeError("down")
            return {"buckets_fired": 1} if name == "backstop" else {"tenants": 1}

        return handler


def _source(name: str, expression: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, handler_string=f"app.{name}", schedule_expression=expression)


def test_handlers_invoke_the_lambda_entry_points_with_event_and_context() -> None:
    fake = _App([_source("backstop", "rate(5 minutes)"), SimpleNamespace(name="sqs", handler_string="app.sqs")])
    handlers = jobs.Handlers(modules={})
    handlers._app = fake
    assert handlers.fire({"bucket_id": "b"}) == {"tasks": 0}
    name, event, context = fake.calls[-1]
    assert (name, event, context.function_name) == ("fire", {"bucket_id": "b"}, "siyu-local-fire")
    [job] = handlers.periodic()  # only scheduled sources
    assert job == jobs.PeriodicJob("backstop", "backstop", 300.0)
    assert handlers.run(job, datetime(2026, 12, 5, 0, 0, tzinfo=UTC).timestamp()) == {"buckets_fired": 1}
    name, event, context = fake.calls[-1]
    assert (
        name == "backstop" and event["detail-type"] == "Scheduled Event" and context.function_name.endswith("backstop")
    )
    assert event["time"] == "2026-12-05T00:00:00Z"  # the stack's clock, which may be moved ahead of the machine's


def test_periodic_jobs_run_at_their_rates_and_survive_a_failure() -> None:
    fake = _App(
        [_source("backstop", "rate(5 minutes)"), _source("broken", "rate(5 minutes)"),
         _source("task_sync", "rate(10 minutes)"), _source("nightly", "cron(0 3 * * ? *)")]
    )  # fmt: skip
    handlers = jobs.Handlers(modules={})
    handlers._app = fake
    now = [1000.0]
    lines: list[str] = []
    periodic = jobs.PeriodicJobs(handlers, lines.append, clock=lambda: now[0])

    def ran() -> list[str]:
        names = [c[0] for c in fake.calls]
        fake.calls.clear()
        return names

    assert set(periodic()) == {"backstop", "task_sync"}  # at start: everything, the broken one logged
    assert ran() == ["backstop", "broken", "task_sync"]
    assert "pump: job broken failed: RuntimeError: down" in lines
    assert "pump: backstop fired 1 overdue bucket(s)" in lines
    assert sum("cron schedule" in line for line in lines) == 1
    now[0] += 299.0  # the pump's next call, a little early
    periodic()
    assert ran() == ["backstop", "broken"]  # task_sync waits for its 10 minutes
    now[0] += 301.0
    periodic()
    assert ran() == ["backstop", "broken", "task_sync"]
    assert sum("cron schedule" in line for line in lines) == 1  # said once


def test_the_next_tick_is_the_earliest_job_due_on_the_stacks_clock() -> None:
    fake = _App([_source("backstop", "rate(5 minutes)"), _source("task_sync", "rate(10 minutes)")])
    handlers = jobs.Handlers(modules={})
    handlers._app = fake
    periodic = jobs.PeriodicJobs(handlers, lambda line: None, clock=lambda: 0.0)
    assert periodic.next_tick(5000.0) == 5000.0  # never ran: due now
    assert set(periodic.run_due(5000.0)) == {"backstop", "task_sync"}
    assert periodic.next_tick(5000.0) == 5300.0
    assert set(periodic.run_due(5300.0)) == {"backstop"}
    assert periodic.next_tick(5300.0) == 5600.0  # both: the backstop's 5 and the task sync's 10 minutes
    assert set(periodic.run_due(9000.0, floor=3600.0, slack=1800.0)) == {"backstop", "task_sync"}
    assert periodic.run_due(9000.0 + 1799.0, floor=3600.0, slack=1800.0) == {}  # coalesced: once an hour
