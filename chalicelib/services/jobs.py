"""Long work and its progress, one face over the jobs that have it: bulk enrollments (services/bulk.py), group
syncs (services/groups/sync.py) and metrics rebuilds (services/rebuild_jobs.py). The console's 任务进度 pages read
only this.

The listing is the tenant's job log (one Query of an index, newest first): every job, running or done, the first
sync a new tenant gets included. A job's kind is read from its id's prefix (domain/jobs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain import jobs
from chalicelib.domain.jobs import JobView
from chalicelib.domain.plans import CUSTOMER_PLAN, PlanStatus
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import CustomerFilter, Page
from chalicelib.services.customer_views import FilterChoices, views_of
from chalicelib.services.rebuild_jobs import rebuild_jobs_of

RECENT = 20  # jobs on the jobs page
PLAN_CHOICES = 100  # published plans offered in the start form (a tenant runs a few dozen)


class BulkJobs(Protocol):
    def start(self, tenant: Tenant, plan_id: str, flt: CustomerFilter) -> dict[str, Any]: ...
    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]: ...


class JobLog(Protocol):
    def recent_jobs(self, tenant_id: str, *, limit: int) -> list[tuple[str, dict[str, Any]]]: ...


class GroupSyncs(Protocol):
    def start(self, tenant: Tenant) -> dict[str, Any]: ...
    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]: ...


class PlanFinder(Protocol):
    def find(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...


class FilterChoicesSource(Protocol):
    def choices(self, tenant_id: str) -> FilterChoices: ...


class JobReader(Protocol):
    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...


class Rebuilds(Protocol):
    def start(self, tenant: Tenant, date_from: str, date_to: str) -> dict[str, Any]: ...
    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]: ...


VIEWS: dict[str, Callable[[dict[str, Any]], JobView]] = {
    jobs.BULK: jobs.bulk_view,
    jobs.GROUP_SYNC: jobs.sync_view,
    jobs.REBUILD: jobs.rebuild_view,
    jobs.HANDOVER: jobs.handover_view,  # 客户交接 (services/handover.py)
    jobs.CONTACT_SYNC: jobs.contact_sync_view,  # issue 14 §1
}


class JobsService:
    def __init__(
        self,
        bulk: BulkJobs,
        group_sync: GroupSyncs,
        rebuilds: Rebuilds,
        repo: JobLog,
        plans: PlanFinder,
        filters: FilterChoicesSource,
        jobs: JobReader | None = None,
        contact_syncs: GroupSyncs | None = None,
    ) -> None:
        self.bulk = bulk
        self.group_sync = group_sync
        self.rebuilds = rebuilds
        self.repo = repo
        self.plans = plans  # the published customer plans a bulk enrollment may start
        self.filters = filters  # what its customer filter offers (services/customer_views.py)
        self.jobs = jobs  # any job by id (a hand-over: services/handover.py)
        self.contact_syncs = contact_syncs  # the contact sync (services/contact_sync.py), same start/status shape

    def list(self, tenant_id: str) -> list[JobView]:
        """The latest ``RECENT`` jobs of every kind, newest first."""
        views = []
        for _, job in self.repo.recent_jobs(tenant_id, limit=RECENT):
            kind = jobs.kind_of(str(job.get("job_id", "")))
            if kind is not None:
                views.append(VIEWS[kind](job))
        return views

    def board(self, tenant_id: str) -> dict[str, Any]:
        """The jobs page: the listing, the published customer plans a new bulk enrollment can enroll into and what
        its customer filter offers."""
        page = self.plans.find(tenant_id, status=PlanStatus.PUBLISHED.value, cursor=None, limit=PLAN_CHOICES)
        plans = [(p.plan_id, p.name) for p in page.items if p.kind == CUSTOMER_PLAN]
        return {"jobs": self.list(tenant_id), "plans": plans, "filters": self.filters.choices(tenant_id)}

    def get(self, tenant_id: str, job_id: str) -> JobView:
        """One job by id, whatever its kind (NotFoundError for an id of neither kind or of no job)."""
        kind = jobs.kind_of(job_id)
        if kind == jobs.BULK:
            return jobs.bulk_view(self.bulk.status(tenant_id, job_id))
        if kind == jobs.GROUP_SYNC:
            return jobs.sync_view(self.group_sync.status(tenant_id, job_id))
        if kind == jobs.REBUILD:
            return jobs.rebuild_view(self.rebuilds.status(tenant_id, job_id))
        if kind == jobs.HANDOVER:
            return jobs.handover_view(self._job(tenant_id, job_id, jobs.HANDOVER))
        if kind == jobs.CONTACT_SYNC and self.contact_syncs is not None:
            return jobs.contact_sync_view(self.contact_syncs.status(tenant_id, job_id))
        raise NotFoundError(f"job {job_id} does not exist")

    def _job(self, tenant_id: str, job_id: str, kind: str) -> dict[str, Any]:
        job = self.jobs.get_job(tenant_id, job_id) if self.jobs is not None else None
        if job is None or job.get("kind") != kind:
            raise NotFoundError(f"job {job_id} does not exist")
        return job

    def start_bulk(self, tenant: Tenant, plan_id: str, flt: CustomerFilter) -> JobView:
        """Start a bulk enrollment (its first slice runs now, the backstop the rest)."""
        return jobs.bulk_view(self.bulk.start(tenant, plan_id, flt))

    def start_rebuild(self, tenant: Tenant, date_from: str, date_to: str) -> JobView:
        """Start rebuilding the metrics of local days ``date_from``..``date_to`` (InvalidError for a bad range)."""
        return jobs.rebuild_view(self.rebuilds.start(tenant, date_from, date_to))

    def start_group_sync(self, tenant: Tenant) -> JobView:
        """Start a group sync, or take the one running."""
        return jobs.sync_view(self.group_sync.start(tenant))


def jobs_of(svc: Any) -> JobsService:
    """The jobs face over the wired services (it holds no state of its own, so building it per call is free)."""
    from chalicelib.services.contact_sync import contact_sync_of

    return JobsService(
        svc.bulk,
        svc.group_sync,
        rebuild_jobs_of(svc),
        svc.store,
        svc.plans,
        views_of(svc),
        jobs=svc.store,
        contact_syncs=contact_sync_of(svc),
    )
