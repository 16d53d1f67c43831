"""A metrics rebuild as a job with progress (the console's 任务进度): the range's days recomputed one at a time from
the fact log (MetricsService.rebuild), so a 92-day range never has to fit in one request, and the bar shows the
share of days done.

The job is stored as a bulk enrollment job is (JobRepo: created once, each step saved only from the step before, in
the running index while it runs), with its own id prefix and ``kind``, so bulk enrollment's backstop leaves it
alone. A crash between a day's rebuild and the job's save rebuilds that day again, which is harmless: a rebuild
writes a day's counters whole from its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain.instants import iso_of
from chalicelib.domain.jobs import REBUILD, REBUILD_PREFIX
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import Clock, IdGenerator
from chalicelib.services.metrics_views import days_between
from chalicelib.services.sop.repos import JobRepo

SLICE_SECONDS = 5.0  # work per call from the console; the backstop continues the rest


class Rebuilder(Protocol):
    def rebuild(self, tenant: Tenant, date_from: str, date_to: str) -> dict[str, Any]: ...


class RebuildJobs:
    def __init__(
        self,
        repo: JobRepo,
        metrics: Rebuilder,
        clock: Clock,
        ids: IdGenerator,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.metrics = metrics
        self.clock = clock
        self.ids = ids
        self.monotonic = monotonic  # elapsed time for slices, never the time of day

    def start(self, tenant: Tenant, date_from: str, date_to: str) -> dict[str, Any]:
        """A job for the local days ``date_from``..``date_to`` (at most 92; InvalidError otherwise), and its first
        slice."""
        days = days_between(date_from, date_to)
        now = iso_of(self.clock.now(), tenant.zone)
        job: dict[str, Any] = {
            "job_id": self.ids.new_id(REBUILD_PREFIX),
            "kind": REBUILD,
            "days": days,
            "done": 0,
            "facts": 0,
            "counters": 0,
            "seq": 0,
            "status": "running",
            "started_at": now,
            "updated_at": now,
        }
        self.repo.put_job(tenant.tenant_id, job, create=True)
        return self.advance(tenant, job["job_id"], budget_seconds=SLICE_SECONDS)

    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        job = self.repo.get_job(tenant_id, job_id)
        if job is None or job.get("kind") != REBUILD:
            raise NotFoundError(f"job {job_id} does not exist")
        return job

    def advance(self, tenant: Tenant, job_id: str, *, budget_seconds: float) -> dict[str, Any]:
        """Rebuild day after day until done or the budget is spent; returns the job as it stands."""
        deadline = self.monotonic() + budget_seconds
        job = self.status(tenant.tenant_id, job_id)
        while job["status"] == "running" and self.monotonic() < deadline:
            day = job["days"][job["done"]]
            report = self.metrics.rebuild(tenant, day, day)
            done = job["done"] + 1
            advanced = dict(
                job,
                seq=job["seq"] + 1,
                done=done,
                facts=job["facts"] + report["facts"],
                counters=job["counters"] + report["counters"],
                status="done" if done >= len(job["days"]) else "running",
                updated_at=iso_of(self.clock.now(), tenant.zone),
            )
            if not self.repo.put_job(tenant.tenant_id, advanced):
                return self.status(tenant.tenant_id, job_id)  # another worker advanced it
            job = advanced
        return job

    def continue_running(self, tenant: Tenant, *, budget_seconds: float) -> int:
        """The backstop's share: advance the tenant's running rebuilds within the budget."""
        jobs = [j for j in self.repo.running_jobs(tenant.tenant_id) if j.get("kind") == REBUILD]
        for job in jobs:
            self.advance(tenant, job["job_id"], budget_seconds=budget_seconds / max(len(jobs), 1))
        return len(jobs)


def rebuild_jobs_of(svc: Any) -> RebuildJobs:
    """The rebuild jobs over the wired services (stateless: building one per call is free)."""
    return RebuildJobs(svc.store, svc.metrics, svc.clock, svc.ids)
