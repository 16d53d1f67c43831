"""Bulk enrollment by customer filter: 100,000 customers in bounded, resumable slices, with visible progress.

A job records its filter and a cursor into the customer list. Each slice reads one page, enrolls it, then advances
the job with a condition on the step it started from (``seq``), so two workers never both advance a job; a crash
between enrolling and advancing re-runs that page, which is harmless because an enrollment made by this job is
recognised (its source names the job), counted as enrolled (the cut-short run never recorded its counts) and given
what may not have followed its write (its first touch: ``EnrollmentService.resume``), and the plan's re-entry
policy holds for everything else.

``skipped`` counts every customer not enrolled, and ``refused`` splits it by reason (``domain/enrollments.py``:
``excluded_by_exit_rule``, ``audience_not_matched``, ``reentry_not_allowed``, ``already_enrolled``, …).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any, Protocol

from chalicelib.domain.customers import Customer
from chalicelib.domain.enrollments import PLAN_NOT_FOUND, Refusal
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan
from chalicelib.domain.sop import Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import Clock, CustomerFilter, IdGenerator, Page
from chalicelib.services.sop.repos import JobRepo
from chalicelib.services.sop.rules import PlanSource

PAGE = 100  # customers per slice
BULK_KIND = "bulk_enrollment"  # a job's ``kind`` (jobs made before kinds existed have none: they are bulk jobs)
SLICE_SECONDS = 5.0  # work per call from the API; the backstop continues the rest


class BulkRepo(JobRepo, Protocol):
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]: ...


class CustomerLister(Protocol):
    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page: ...


class Enroller(Protocol):
    def attempt(
        self, tenant: Tenant, plan: Plan, customer: Customer | None, *, source: str
    ) -> Enrollment | Refusal: ...
    def resume(self, tenant: Tenant, plan: Plan, enrollment: Enrollment, customer: Customer | None) -> bool: ...


class Batches(Protocol):
    def batch(self) -> AbstractContextManager[None]: ...


class BulkEnrollment:
    def __init__(
        self,
        repo: BulkRepo,
        customers: CustomerLister,
        plans: PlanSource,
        enroller: Enroller,
        batches: Batches,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self.repo = repo
        self.customers = customers
        self.plans = plans
        self.enroller = enroller  # EnrollmentService: the one enrollment decision
        self.batches = batches  # the SOP kernel: due-now first touches fire once per page
        self.clock = clock
        self.ids = ids

    def start(self, tenant: Tenant, plan_id: str, flt: CustomerFilter) -> dict[str, Any]:
        if self.plans.current_plan(tenant.tenant_id, plan_id) is None:
            raise NotFoundError(f"plan {plan_id} does not exist")
        now = iso_of(self.clock.now(), tenant.zone)
        job_id = self.ids.new_id("bj_")
        job: dict[str, Any] = {
            "job_id": job_id,
            "kind": BULK_KIND,
            "plan_id": plan_id,
            "filter": asdict(flt),
            "cursor": None,
            "status": "running",
            "seq": 0,
            "scanned": 0,
            "enrolled": 0,
            "skipped": 0,
            "refused": {},
            "started_at": now,
            "updated_at": now,
        }
        self.repo.put_job(tenant.tenant_id, job, create=True)
        return self.advance(tenant, job_id, budget_seconds=SLICE_SECONDS)

    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        job = self.repo.get_job(tenant_id, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} does not exist")
        return job

    def advance(self, tenant: Tenant, job_id: str, *, budget_seconds: float) -> dict[str, Any]:
        """Process slices until the job is done or the budget is spent; returns the job as it stands."""
        deadline = time.monotonic() + budget_seconds
        repo = self.repo
        job = self.status(tenant.tenant_id, job_id)
        while job["status"] == "running" and time.monotonic() < deadline:
            flt = CustomerFilter(**job["filter"])
            page = self.customers.list_customers(tenant.tenant_id, flt, cursor=job["cursor"], limit=PAGE)
            with self.batches.batch():  # a due-now first step fires once per page, as one task per executor
                enrolled, refused = self._enroll_page(tenant, job, page.items)
            reasons = dict(job.get("refused") or {})
            for reason, n in refused.items():
                reasons[reason] = reasons.get(reason, 0) + n
            advanced = dict(
                job,
                seq=job["seq"] + 1,
                cursor=page.next_cursor,
                scanned=job["scanned"] + len(page.items),
                enrolled=job["enrolled"] + enrolled,
                skipped=job["skipped"] + sum(refused.values()),
                refused=reasons,
                status="running" if page.next_cursor else "done",
                updated_at=iso_of(self.clock.now(), tenant.zone),
            )
            if not repo.put_job(tenant.tenant_id, advanced):
                return self.status(tenant.tenant_id, job_id)  # another worker advanced it
            job = advanced
        return job

    def _enroll_page(self, tenant: Tenant, job: dict[str, Any], customers: list[Any]) -> tuple[int, dict[str, int]]:
        """Enroll one page: the plan once, the page's profiles and enrollments in batched reads (from the table,
        not the listing index, so a customer erased meanwhile is not brought back), then one write set each.
        Returns the number enrolled and the others counted by refusal reason."""
        source = f"bulk:{job['job_id']}"
        tid, repo = tenant.tenant_id, self.repo
        plan = self.plans.current_plan(tid, job["plan_id"])  # per page: a pause stops the job's next page
        ids = [c.customer_id for c in customers]
        fresh = repo.get_customers(tid, ids)
        current = repo.get_enrollments(tid, ids, job["plan_id"])
        enrolled = 0
        refused: dict[str, int] = {}
        for cid in ids:
            mine = current.get(cid)
            if mine is not None and mine.source == source:  # this job enrolled them already (a re-run page)
                if plan is not None:  # the run it cut short gets what follows its write (enrollments.RESUME_WITHIN)
                    self.enroller.resume(tenant, plan, mine, fresh.get(cid))
                enrolled += 1  # counted now: the cut-short run of this page never recorded its counts
                continue
            if plan is None:
                result: Enrollment | Refusal | str = PLAN_NOT_FOUND
            else:
                result = self.enroller.attempt(tenant, plan, fresh.get(cid), source=source)
            if isinstance(result, Enrollment):
                enrolled += 1
            else:
                reason = result if isinstance(result, str) else result.reason
                refused[reason] = refused.get(reason, 0) + 1
        return enrolled, refused

    def continue_running(self, tenant: Tenant, *, budget_seconds: float) -> int:
        """The backstop's share: advance every running job of the tenant within the budget (bulk enrollments only:
        a metrics rebuild shares the job store, services/rebuild_jobs.py, and has its own ``kind``)."""
        jobs = [j for j in self.repo.running_jobs(tenant.tenant_id) if j.get("kind", BULK_KIND) == BULK_KIND]
        for job in jobs:
            self.advance(tenant, job["job_id"], budget_seconds=budget_seconds / max(len(jobs), 1))
        return len(jobs)
