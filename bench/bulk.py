"""The bulk enrollment job's benchmark: one job over the SOP bench's N customers into a third plan, run as production
runs it (``start`` from the API, one 5 s slice; then ``advance`` with the backstop's 60 s budget until done).

It reuses what ``bench.sop.run_sop`` set up and measured before it (the tenant, the N customers, the engine with its
virtual clock and metered Scheduler adapter): no customer is created here. The job is the app's own
``BulkEnrollment`` class, wired as ``chalicelib.bootstrap`` wires it (the store, the engine's enrollments and
kernel) but over the bench's engine, so that its Scheduler calls are metered and its clock is the bench's; its
customer repository is the store behind a thin timer that notes when each page's listing starts (how the per-page
times are measured).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bench.common import (
    SOP_TENANT,
    BenchError,
    bucket_label,
    count_wecom,
    escaped_calls,
    local_time,
    plan_document,
    quiet_stdout,
)
from bench.meter import count_all_calls
from bench.sop_results import BulkResults, SopPhase

# The third plan: its first step is day-based (the day after enrolling, 10:00 local), so a job's enrollments made on
# one local day share one bucket and nothing is due now (nothing fires inline while the job runs).
BULK_STEPS = (
    ("b1", 1, "10:00", "interactive", "同学好！给你准备了一份考研英语真题资料包，回复「资料」我发给你～"),
    ("b2", 3, "20:00", "marketing", "本周日晚 8 点公开课：考研英语阅读提分技巧，点链接预约。"),
    ("b3", 6, "20:00", "marketing", "公开课学员专享：全年班报名立减 300 元，本周内有效。"),
)
BULK_PLAN_NAME = "老客批量培育（压测）"
BULK_AT = timedelta(hours=1)  # the job runs an hour after the fire (on the fire's local day, 21:00 local)


def page_times(call_bounds: list[tuple[float, float]], page_starts: list[float]) -> tuple[list[int], list[float]]:
    """Pages per call and seconds per page, from each call's (start, end) and each page's listing start: a page lasts
    until the next page's listing starts, or, for a call's last page, until the call returns."""
    pages_per_call: list[int] = []
    durations: list[float] = []
    for begin, end in call_bounds:
        mine = [t for t in page_starts if begin <= t <= end]
        pages_per_call.append(len(mine))
        durations += [b - a for a, b in zip(mine, [*mine[1:], end], strict=False)]  # none if it listed nothing
    return pages_per_call, durations


class _PageTimer:
    """The customer repository ``BulkEnrollment`` lists from, noting when each page's listing starts."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.starts: list[float] = []
        self.sizes: list[int] = []

    def list_customers(self, tenant_id: str, flt: Any, *, cursor: str | None, limit: int) -> Any:
        self.starts.append(time.perf_counter())
        page = self.repo.list_customers(tenant_id, flt, cursor=cursor, limit=limit)
        self.sizes.append(len(page.items))
        return page


def bulk_plan_document() -> dict[str, Any]:
    """The third plan as ops would POST it: the SOP bench's plan, with the bulk steps."""
    doc = plan_document(BULK_PLAN_NAME)
    template = doc["steps"][0]
    doc["steps"] = [
        dict(template, id=sid, day=day, at=at, content_type=kind, message={"text": text})
        for sid, day, at, kind, text in BULK_STEPS
    ]
    return doc


def run_bulk(
    stack: Any,
    *,
    engine: Any,
    sched_meter: Any,
    clock: Any,
    tenant: Any,
    token: str,
    customers: int,
    added_from: str,
    at: datetime,
    progress: Callable[[str], None],
) -> BulkResults:
    """Publish the third plan through the API, then measure one bulk job over the customers added at or after
    ``added_from`` (the ``customers`` measured ones), start + advance calls until done."""
    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.jobs.sop import BULK_SECONDS
    from chalicelib.ports import CustomerFilter
    from chalicelib.services.bulk import PAGE, SLICE_SECONDS, BulkEnrollment

    svc = stack.services()
    with quiet_stdout():
        created = stack.call("POST", f"/t/{SOP_TENANT}/plans", bulk_plan_document(), token)
        stack.call("POST", f"/t/{SOP_TENANT}/plans/{created['plan_id']}/publish", None, token)
    plan_id = str(created["plan_id"])
    clock.set(at)
    flt = CustomerFilter(added_from=added_from)
    lister = _PageTimer(svc.store)
    bulk = BulkEnrollment(svc.store, lister, engine.plans, engine.enrollments, engine.kernel, engine.clock, engine.ids)
    stack.attach_meter()

    max_calls = math.ceil(customers / PAGE) + 10  # each call does at least one page; more means no progress
    progress(
        f"SOP: measuring a bulk enrollment job over {customers} customers: start, then advance("
        f"budget_seconds={BULK_SECONDS:g}) until done"
    )
    phase = SopPhase("bulk", customers, 0.0)
    world = stack.sandbox.world
    wecom_before = len(world.calls())
    bounds: list[tuple[float, float]] = []
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        job = bulk.start(tenant, plan_id, flt)
        bounds.append((t0, time.perf_counter()))
        while job["status"] == "running":
            if len(bounds) >= max_calls:
                raise BenchError(f"the bulk job is still running after {len(bounds)} calls: {job}")
            t = time.perf_counter()
            job = bulk.advance(tenant, job["job_id"], budget_seconds=BULK_SECONDS)
            bounds.append((t, time.perf_counter()))
            progress(f"  advance call {len(bounds) - 1}: {job['scanned']}/{customers} customers scanned")
        phase.wall_s = time.perf_counter() - t0
        phase.ddb = stack.meter.since(ddb_mark)
        phase.scheduler = sched_meter.since(sched_mark)
    phase.unmetered = escaped_calls(audit, phase)
    phase.wecom = count_wecom(world.calls()[wecom_before:])
    if job["status"] != "done":
        raise BenchError(f"the bulk job ended as {job['status']!r}: {job}")
    call_pages, page_s = page_times(bounds, lister.starts)
    if sum(call_pages) != job["seq"] or len(lister.sizes) != job["seq"]:
        raise BenchError(f"timed {sum(call_pages)} pages, listed {len(lister.sizes)}, the job counts {job['seq']}")

    plan = svc.plans.current_plan(SOP_TENANT, plan_id)
    held = svc.store.plan_buckets(SOP_TENANT, plan_id, plan.version, from_minute="0")
    touches = sum(len(svc.store.touches_in(SOP_TENANT, b.bucket_id)) for b in held)
    return BulkResults(
        phase=phase,
        job=job,
        filter=f'CustomerFilter(added_from="{added_from}")',
        selected=customers,
        page_size=PAGE,
        start_budget_s=SLICE_SECONDS,
        budget_s=BULK_SECONDS,
        call_pages=call_pages,
        call_s=[end - begin for begin, end in bounds],
        page_s=page_s,
        page_sizes=list(lister.sizes),
        buckets=[bucket_label(b.step_id, b.minute) for b in held],
        bucket_touches=touches,
        plan_steps=[(sid, day, at_, kind) for sid, day, at_, kind, _text in BULK_STEPS],
        enrolled_at=f"{local_time(at, tenant.zone, seconds=True)} ({tenant.zone.key})",
    )
