"""The SOP part's results, pure data: one ``SopPhase`` per measured operation (the enrollments, the fire, the bulk
job), ``SopResults`` and ``BulkResults`` around them, and the per-call tallies the SOP and bulk sections of
docs/performance.md are made of. bench/sop.py and bench/bulk.py fill them, bench/sop_report.py and
bench/bulk_report.py render them, tests build them by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.capacity import CONDITION_FAILED, CallRecord, Capacity, total_capacity
from bench.meter import ApiCall, count_api_calls

BACKSTOP_MINUTES = 5  # app.py: @app.schedule(Rate(5, unit=Rate.MINUTES), name="backstop")
ESTIMATE_CUSTOMERS = 100_000  # the figure the bulk enrollment was designed for (chalicelib/services/bulk.py)


@dataclass
class SopPhase:
    """One measured SOP operation: N enrollments, or one fire of N touches."""

    key: str
    n: int  # enrollments, or touches in the fired bucket
    wall_s: float
    ddb: list[CallRecord] = field(default_factory=list)
    scheduler: list[ApiCall] = field(default_factory=list)
    wecom: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)  # per call of the engine (enrollment only)
    unmetered: dict[str, int] = field(default_factory=dict)  # by service: calls that escaped the meters (must be 0)

    @property
    def capacity(self) -> Capacity:
        return total_capacity(self.ddb)

    @property
    def per_unit(self) -> Capacity:
        """Capacity per enrollment / per touch."""
        c = self.capacity
        n = max(self.n, 1)
        return Capacity(c.read / n, c.write / n, c.billed_read / n, c.billed_write / n)

    @property
    def ddb_ops(self) -> dict[str, int]:
        return count_ops(self.ddb)

    @property
    def scheduler_ops(self) -> dict[str, int]:
        return count_api_calls(self.scheduler)

    @property
    def scheduler_calls(self) -> int:
        return len(self.scheduler)

    @property
    def wecom_total(self) -> int:
        return sum(self.wecom.values())

    @property
    def per_thousand_s(self) -> float:
        return self.wall_s / max(self.n, 1) * 1000


@dataclass
class SopResults:
    n: int
    staff: int
    warmup: int
    enroll: SopPhase
    fire: SopPhase
    buckets: list[str]  # the distinct (step, due minute) buckets the enrollments' first touches fell into
    next_buckets: list[str]  # the same for the step the fire scheduled next
    bucket_touches: int  # touches waiting in the fired bucket before the fire
    fire_report: dict[str, Any]
    tasks: list[dict[str, Any]]  # the staff tasks the fire created: userid, customers, status
    item_bytes: dict[str, int]  # typical item sizes (customer profile, enrollment, touch, task)
    enroll_window: str
    fire_at: str
    setup_s: float
    command: str = ""
    bulk: BulkResults | None = None  # the bulk enrollment job over the same N customers, run after the fire


def count_ops(records: Iterable[CallRecord]) -> dict[str, int]:
    """DynamoDB calls by operation; the failed ones also under ``Operation:ErrorCode``."""
    out: dict[str, int] = {}
    for r in records:
        out[r.operation] = out.get(r.operation, 0) + 1
        if r.error:
            name = f"{r.operation}:{r.error}"
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


# What each (operation, key shape) is, in the engine and its store (chalicelib/adapters/dynamodb/enrollments.py,
# touches.py, tasks.py, plans.py).
ENGINE_CALLS = {
    ("GetItem", "T/TENANT"): "get_tenant",
    ("GetItem", "T/PLAN"): "plans.current_plan (plan head)",
    ("BatchGetItem", "PL/V+T/PLAN"): "plans.plan_version (head + version)",
    ("GetItem", "C/PROFILE"): "get_customer",
    ("GetItem", "C/ENR"): "get_enrollment",
    ("BatchGetItem", "C/PROFILE"): "get_customers (a page of touches or customers)",
    ("BatchGetItem", "C/ENR"): "get_enrollments (a page of touches or customers)",
    ("PutItem", "C/ENR"): "put_enrollment / end_enrollment",
    ("PutItem", "BKT/*"): "add_touch",
    ("PutItem", "BKT/BUCKET"): "register_bucket",
    ("PutItem", "PLB/*"): "register_bucket (the plan version's bucket list, first touch only)",
    ("GetItem", "BKT/BUCKET"): "get_bucket",
    ("UpdateItem", "BKT/BUCKET"): "drain_bucket / reopen_bucket / feed_bucket",
    ("Query", "table:BKT"): "touches_in",
    ("UpdateItem", "BKT/*"): "move_touch",
    ("UpdateItem", "C/CAP"): "take_cap",
    ("UpdateItem", "C/F"): "take_quota (daily cap + monthly limit; records the sent touch on the timeline)",
    ("PutItem", "C/F"): "timeline entry (enrollment start or exit, skipped touch)",
    ("PutItem", "PLE/*"): "put_roster (the plan's roster entry)",
    ("UpdateItem", "C/PROFILE"): "advance_stage (a new customer's first enrollment: nurturing)",
    ("Query", "table:T"): "list_plans (the published plans a stage may trigger, cached 30 s; a large fire's rivals)",
    ("Query", "table:PL"): "list_plan_versions (a large fire's rival plans: once per fire, per published plan)",
    ("Query", "table:C"): "enrollments_of (a capped touch another plan could outrank)",
    ("PutItem", "C/SIL"): "silence timer",
    ("PutItem", "TASK/TASK"): "create_task / save_task (the task's head)",
    ("PutItem", "TASK/RCPT"): "create_task (the task's customer ids)",
    ("Query", "table:TASK"): "get_task",
    ("Query", "gsi2:CUSTOMERS"): "list_customers (a page of the job's filter: keys, then their profiles)",
    ("Query", "gsi1:CUSTOMERS"): "list_customers (before the customer list moved to gsi2)",
    ("GetItem", "JOB/JOB"): "get_job (once per start/advance call)",
    ("PutItem", "JOB/JOB"): "put_job (create; then each page's advance, conditional on seq)",
}


def call_key(record: CallRecord) -> tuple[str, str]:
    return record.operation, record.item


def units_by_call(records: Iterable[CallRecord]) -> dict[tuple[str, str], tuple[float, float]]:
    """Billed (read, write) units by (operation, key shape)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        read, write = out.get(call_key(r), (0.0, 0.0))
        out[call_key(r)] = (read + r.capacity.billed_read, write + r.capacity.billed_write)
    return dict(sorted(out.items()))


def calls_by_call(records: Iterable[CallRecord]) -> dict[tuple[str, str], tuple[int, int, float, list[float]]]:
    """(calls, of which failed their condition, total seconds, per-call seconds) by (operation, key shape)."""
    out: dict[tuple[str, str], tuple[int, int, float, list[float]]] = {}
    for r in records:
        calls, failed, total, each = out.get(call_key(r), (0, 0, 0.0, []))
        each.append(r.seconds)
        out[call_key(r)] = (calls + 1, failed + (r.error == CONDITION_FAILED), total + r.seconds, each)
    return dict(sorted(out.items()))


def units_by_op(records: Iterable[CallRecord]) -> dict[str, tuple[float, float]]:
    """Billed (read, write) units by operation."""
    out: dict[str, tuple[float, float]] = {}
    for (op, _item), (read, write) in units_by_call(records).items():
        r0, w0 = out.get(op, (0.0, 0.0))
        out[op] = (r0 + read, w0 + write)
    return out


# --- the bulk enrollment job ----------------------------------------------------------------------------------------


@dataclass
class BulkResults:
    """One measured bulk enrollment job: the phase (n = customers the filter selected) and the job's own figures."""

    phase: SopPhase
    job: dict[str, Any]  # the job as the last call returned it (status, seq, scanned, enrolled, skipped)
    filter: str  # the CustomerFilter, as code
    selected: int  # customers the filter selects (what the job should scan)
    page_size: int  # chalicelib.services.bulk.PAGE
    start_budget_s: float  # chalicelib.services.bulk.SLICE_SECONDS (the API's slice)
    budget_s: float  # chalicelib.jobs.sop.BULK_SECONDS (one backstop run's share per tenant)
    call_pages: list[int]  # pages per call: start first, then each advance
    call_s: list[float]  # wall time per call: start first, then each advance
    page_s: list[float]  # wall time per page (listing, reads, writes, the job's conditional advance)
    page_sizes: list[int]  # customers per page, as listed (a job whose N is a multiple of PAGE ends on an empty page)
    buckets: list[str]  # distinct (step, due minute) buckets the plan version holds after the job
    bucket_touches: int  # touches waiting in those buckets after the job
    plan_steps: list[tuple[str, int, str, str]] = field(default_factory=list)  # (id, day, at, content type)
    enrolled_at: str = ""

    @property
    def advance_calls(self) -> int:
        return max(len(self.call_s) - 1, 0)

    @property
    def pages(self) -> int:
        return sum(self.call_pages)

    @property
    def wall_s(self) -> float:
        return self.phase.wall_s

    @property
    def per_customer_s(self) -> float:
        return self.wall_s / max(self.phase.n, 1)

    @property
    def enrollment_puts(self) -> int:
        return sum(1 for r in self.phase.ddb if r.operation == "PutItem" and r.item == "C/ENR" and not r.error)

    def estimate(self, customers: int = ESTIMATE_CUSTOMERS) -> BulkEstimate:
        """Linear scaling of the measured time and units per customer to ``customers``."""
        wall = self.per_customer_s * customers
        after_start = max(wall - self.start_budget_s, 0.0)
        runs = math.ceil(after_start / self.budget_s) if self.budget_s > 0 else 0
        per = self.phase.per_unit
        return BulkEstimate(
            customers=customers,
            wall_s=wall,
            backstop_runs=runs,
            elapsed_min=runs * BACKSTOP_MINUTES,
            pages=math.ceil(customers / max(self.page_size, 1)),
            billed_write=per.billed_write * customers,
            billed_read=per.billed_read * customers,
        )


@dataclass(frozen=True)
class BulkEstimate:
    customers: int
    wall_s: float
    backstop_runs: int  # 60 s advance calls after the API's 5 s slice
    elapsed_min: int  # at one backstop run every BACKSTOP_MINUTES
    pages: int
    billed_write: float
    billed_read: float


def full_page_s(bulk: BulkResults) -> list[float]:
    """Times of the pages that listed a full page of customers (not a short or empty last page)."""
    return [t for t, size in zip(bulk.page_s, bulk.page_sizes, strict=False) if size == bulk.page_size]


def tenth_medians(page_s: list[float]) -> tuple[float, float] | None:
    """Median page time in the first and the last tenth of the pages (at least one page each): whether a page gets
    slower as the job goes on, which a linear estimate assumes it does not."""
    if len(page_s) < 2:
        return None
    k = max(len(page_s) // 10, 1)
    return stats.median(page_s[:k]), stats.median(page_s[-k:])
