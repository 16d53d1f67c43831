"""The app's Lambda entry points run in the `make run` process: the ``fire`` handler for each due bucket schedule and
the ``@app.schedule`` periodic jobs (backstop, task sync, silence) at their rates on the stack's clock."""

from __future__ import annotations

import importlib
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from devstack.provision import REPO_ROOT

STAGE = "local"
REGION = "us-east-1"


@dataclass(frozen=True)
class PeriodicJob:
    """An ``@app.schedule`` job: its Lambda name, the app.py attribute that handles it, and its rate in seconds
    (None for a cron expression, which the local pump does not run)."""

    name: str
    attribute: str
    every: float | None


_RATE_UNITS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
CONTEXT_COUNTS = frozenset({"tenants", "checked"})  # counts that say where a job looked, not what it did


def rate_seconds(expression: Any) -> float | None:
    """Seconds between two runs for a Chalice ``Rate`` or a ``rate(N unit)`` string; None for anything else (cron)."""
    text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", text.strip())
    return int(match.group(1)) * _RATE_UNITS[match.group(2)] if match else None


def _lambda_context(name: str) -> SimpleNamespace:
    """Enough of a Lambda context object for a handler run in this process."""
    return SimpleNamespace(
        function_name=f"siyu-{STAGE}-{name}",
        aws_request_id=str(uuid.uuid4()),
        memory_limit_in_mb=512,
        get_remaining_time_in_millis=lambda: 300_000,
    )


def scheduled_event(name: str, now: datetime) -> dict[str, Any]:
    """The event EventBridge delivers to an ``@app.schedule`` Lambda."""
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:000000000000:rule/siyu-{STAGE}-{name}"],
        "detail": {},
    }


class Handlers:
    """The app's Lambda entry points, imported from app.py into this process for the pump and invoked as Lambda
    invokes them (event, context; Chalice's middleware included): ``fire``, EventBridge Scheduler's target, and
    every ``@app.schedule`` job (the backstop, the task sync, ...). After a code change, when the API restarts, they
    are imported afresh, so the pump never runs older code than the API. A lock keeps a reload out of a running
    handler.
    """

    MODULE = "app"
    PACKAGES = ("app", "chalicelib")

    def __init__(self, modules: MutableMapping[str, Any] | None = None, project_dir: Path = REPO_ROOT) -> None:
        self._modules = sys.modules if modules is None else modules
        self._project_dir = project_dir
        self._lock = threading.Lock()
        self._app: Any = None

    def _loaded(self) -> Any:
        if self._app is None:
            if str(self._project_dir) not in sys.path:
                sys.path.insert(0, str(self._project_dir))
            try:
                self._app = importlib.import_module(self.MODULE)
            except BaseException:
                self._forget()  # half-imported modules out, so the next attempt starts clean
                raise
        return self._app

    def _forget(self) -> None:
        doomed = [n for n in self._modules if any(n == p or n.startswith(p + ".") for p in self.PACKAGES)]
        for name in doomed:
            del self._modules[name]
        importlib.invalidate_caches()
        self._app = None

    def fire(self, event: dict[str, Any]) -> Any:
        """What EventBridge Scheduler does with a bucket schedule: invoke the ``fire`` Lambda with its Input."""
        with self._lock:
            return self._loaded().fire(event, _lambda_context("fire"))

    def periodic(self) -> list[PeriodicJob]:
        """The app's ``@app.schedule`` jobs, as app.py declares them now."""
        with self._lock:
            module = self._loaded()
            return [
                PeriodicJob(
                    source.name, source.handler_string.rsplit(".", 1)[-1], rate_seconds(source.schedule_expression)
                )
                for source in module.app.event_sources
                if hasattr(source, "schedule_expression")
            ]

    def run(self, job: PeriodicJob, at: float) -> Any:
        """What EventBridge does when a job's rate comes round (at unix second ``at``): invoke its Lambda."""
        with self._lock:
            handler = getattr(self._loaded(), job.attribute)
            return handler(scheduled_event(job.name, datetime.fromtimestamp(at, UTC)), _lambda_context(job.name))

    def events_secret(self, tenant_id: str) -> str | None:
        """The tenant's business-events secret as stored now (None: no such tenant), read with the app's own
        services, so `make run` can keep devstack/.data/events_secret current after a rotation."""
        with self._lock:
            self._loaded()
            tenant = importlib.import_module("chalicelib.bootstrap").services().tenants.repo.get_tenant(tenant_id)
            secret = getattr(tenant, "events_secret", None)
            return secret if isinstance(secret, str) and secret else None

    def reload(self) -> None:
        """Drop app and every chalicelib module (and the services they cached) and import them again now.

        Objects already made from the old modules (the sandbox's imports, run.py's Settings) keep working: they
        hold their modules, they just are not the pump's any more. Raises what the new code raises on import."""
        with self._lock:
            self._forget()
            self._loaded()


class PeriodicJobs:
    """The ``@app.schedule`` jobs on the stack's clock (unix seconds, the virtual time of a moved clock): each runs
    when its rate has come round since its last run (the backstop every 5 minutes, the task sync every 10, ...), and
    all of them at their first call. Cron jobs never run locally (said once). One job's failure is logged and does
    not stop the others. The pump calls it on every tick; the Walker asks ``next_tick`` where to stop."""

    SLACK = 30.0  # the pump's ticks are not exact: a 10-minute job is due again after 9.5

    def __init__(self, handlers: Handlers, log: Callable[[str], None], clock: Callable[[], float]) -> None:
        self.handlers = handlers
        self.log = log
        self.clock = clock
        self._last: dict[str, float] = {}
        self._said: set[str] = set()

    def __call__(self) -> dict[str, Any]:
        return self.run_due(self.clock())

    def jobs(self) -> list[PeriodicJob]:
        """The jobs with a rate (the pump runs those), saying once for each cron job that it does not."""
        rated = []
        for job in self.handlers.periodic():
            if job.every is not None:
                rated.append(job)
            elif job.name not in self._said:
                self._said.add(job.name)
                self.log(f"pump: job {job.name} has a cron schedule: the local pump does not run it")
        return rated

    def next_tick(self, now: float) -> float | None:
        """When the next job is due (``now`` for a job that never ran); None without jobs."""
        ticks = [now if job.name not in self._last else self._last[job.name] + (job.every or 0) for job in self.jobs()]
        return min(ticks) if ticks else None

    def run_due(self, now: float, *, floor: float = 0.0, slack: float = SLACK) -> dict[str, Any]:
        """Run every job whose rate (at least ``floor`` seconds) has come round at ``now``; {job name: result}."""
        results: dict[str, Any] = {}
        for job in self.jobs():
            last = self._last.get(job.name)
            if last is not None and now - last < max(job.every or 0, floor) - slack:
                continue
            self._last[job.name] = now
            try:
                results[job.name] = result = self.handlers.run(job, now)
            except Exception as exc:
                self.log(f"pump: job {job.name} failed: {type(exc).__name__}: {exc}")
                continue
            line = describe_job(job.name, result)
            if line:
                self.log(line)
        return results


def describe_job(name: str, result: Any) -> str | None:
    """A line for a periodic job that did something (a non-zero count in its result); None when it had nothing."""
    if not isinstance(result, Mapping):
        return None
    if name == "backstop":
        fired = result.get("buckets_fired") or 0
        return f"pump: backstop fired {fired} overdue bucket(s)" if fired else None
    counts = {k: v for k, v in result.items() if isinstance(v, int | float) and not isinstance(v, bool) and v}
    if not set(counts) - CONTEXT_COUNTS:  # e.g. only "tenants 1": it looked, nothing happened
        return None
    return f"pump: {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def describe_jobs(jobs: list[PeriodicJob]) -> str:
    """The periodic jobs for the banner, e.g. ``backstop every 5 min, task_sync every 10 min``."""

    def every(job: PeriodicJob) -> str:
        if job.every is None:
            return "cron: not run locally"
        minutes = job.every / 60
        return f"every {minutes:g} min" if minutes >= 1 else f"every {job.every:g} s"

    return ", ".join(f"{job.name} {every(job)}" for job in jobs) or "none"


def fire_and_report(fire: Callable[[dict[str, Any]], Any], log: Callable[[str], None]) -> Callable[..., Any]:
    """The pump's fire callable: the real handler, then one line on what the bucket became."""

    def fire_bucket(payload: dict[str, Any]) -> Any:
        report = fire(payload)
        if isinstance(report, dict):
            log(describe_fire(str(payload.get("bucket_id")), report))
        return report

    return fire_bucket


def describe_fire(bucket_id: str, report: Mapping[str, Any]) -> str:
    """One line for a FireReport: tasks made, touches by outcome, and the rules behind skips and moves (or, for a
    bucket larger than one shard, how many shards it was split into: they run on threads of this process)."""
    if "task_id" in report:  # a retrying task's delayed schedule
        return f"pump: task {report['task_id']} retried: {report.get('outcome') or 'nothing to do'}"
    if report.get("leased") is False:
        return f"pump: bucket {bucket_id}: another fire holds it (its lease); the backstop fires what it leaves"
    if report.get("shards"):
        return f"pump: bucket {bucket_id}: fanned out into {report['shards']} shard(s), fired on threads"
    counts = ", ".join(f"{report.get(k) or 0} {k}" for k in ("sent", "skipped", "dropped", "moved", "failed"))
    if report.get("retrying"):  # claimed by a task WeCom refused for now: the backstop tries it again
        counts += f", {report['retrying']} retrying"
    reasons = report.get("reasons") or {}
    why = f" ({', '.join(f'{r}: {n}' for r, n in sorted(reasons.items()))})" if reasons else ""
    return f"pump: bucket {bucket_id}: {report.get('tasks') or 0} task(s); touches {counts}{why}"
