"""The bulk enrollment job's subsection of docs/performance.md (inside the SOP part), its targets, findings and JSON:
pure functions of ``BulkResults`` (unit-testable offline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench import stats
from bench.common import by_op_headers, by_op_rows, capacity_rows, counts, ddb_seconds, fmt, phase_calls, table
from bench.sop_results import BACKSTOP_MINUTES, BulkResults, SopPhase, full_page_s, tenth_medians


def bulk_targets(bulk: BulkResults, command: str) -> list[tuple[str, str, str, bool, str]]:
    """The bulk job's genuine checks: each selected customer enrolled once, and one schedule per bucket."""
    job, n, phase = bulk.job, bulk.selected, bulk.phase
    buckets = len(bulk.buckets)
    exact = (
        job.get("status") == "done"
        and job.get("scanned") == n
        and job.get("enrolled") == n
        and job.get("skipped") == 0
        and bulk.enrollment_puts == n
        and bulk.bucket_touches == n
    )
    return [
        (
            f"Bulk enrollment: every selected customer enrolled exactly once ({n} customers)",
            f"scanned = enrolled = enrollment writes = touches = {n}, skipped = 0",
            f"{job.get('status')}: scanned {job.get('scanned')}, enrolled {job.get('enrolled')}, skipped "
            f"{job.get('skipped')}; {bulk.enrollment_puts} enrollment writes, {bulk.bucket_touches} touches",
            exact,
            command,
        ),
        (
            f"Bulk enrollment: Scheduler API calls for {n} enrollments",
            f"<= {buckets} (distinct (step, due minute) buckets)",
            f"{phase.scheduler_calls} ({counts(phase.scheduler_ops)})",
            phase.scheduler_calls <= buckets,
            command,
        ),
    ]


def list_values(values: Sequence[str], most: int = 12) -> str:
    shown = ", ".join(values[:most])
    return shown + (f", ... ({len(values)} in all)" if len(values) > most else "")


BULK_CALL_NOTE = (
    "By operation and kind of item as above, plus `gsi2:CUSTOMERS` (a Query of the tenant's customer list on gsi2, "
    "newest first, keys only; the listing then reads the profiles it needs, `BatchGetItem C/PROFILE`) and `JOB/JOB` "
    "(the job's item):"
)


def bulk_estimate_line(bulk: BulkResults) -> str:
    """The 100,000-customer estimate: linear scaling of the measured per-customer time and units, said as such."""
    est, per = bulk.estimate(), bulk.phase.per_unit
    tenths = tenth_medians(full_page_s(bulk))
    drift = ""
    if tenths:
        first, last = tenths
        drift = (
            f" Time scales linearly only while a page costs the same late in the job as early: here the first tenth "
            f"of the full pages took a median {fmt(first * 1000, 0)} ms and the last tenth {fmt(last * 1000, 0)} ms"
            + (
                f" ({fmt(100 * (last / first - 1), 0)}% slower; if pages keep slowing as the job and the table grow, "
                "the time above is an underestimate)."
                if first > 0 and last > first * 1.1
                else "."
            )
        )
    return (
        f"**Scaled to {est.customers:,} customers** (linear scaling of the measured N = {bulk.phase.n}, not a "
        f"measurement): {fmt(bulk.per_customer_s * 1000, 2)} ms per customer x {est.customers:,} = "
        f"{fmt(est.wall_s, 0)} s ({fmt(est.wall_s / 60, 1)} min) of job work in about {est.pages:,} pages, i.e. the "
        f"API's {fmt(bulk.start_budget_s)} s slice and then {est.backstop_runs} backstop runs of "
        f"{fmt(bulk.budget_s)} s; at one backstop run every {BACKSTOP_MINUTES} minutes that is about "
        f"{est.elapsed_min} minutes from start to done (one running job in the tenant, and the backstop's time "
        f"across tenants not spent first on other tenants). DynamoDB: {fmt(est.billed_write, 0)} billed write and "
        f"{fmt(est.billed_read, 0)} billed read units ({fmt(per.billed_write, 3)} and {fmt(per.billed_read, 3)} per "
        "customer). Units scale linearly because a page's costs are constant (one listing Query, one plan read, "
        f"two BatchGetItem of up to {bulk.page_size} keys, one conditional job write) and so are a customer's (an "
        "enrollment put, a touch put, the plan's roster entry and a timeline entry, 1 write unit each for items "
        "under 1 KB; a customer still `new` adds its stage write, 2 units, which these, enrolled above, do not); "
        "the only one-off costs are a bucket's registration and its schedule, once per bucket." + drift
    )


def render_bulk(bulk: BulkResults, command: str) -> list[str]:
    phase, job, n = bulk.phase, bulk.job, bulk.phase.n
    full = full_page_s(bulk)
    page_ms = [t * 1000 for t in full] or [t * 1000 for t in bulk.page_s] or [0.0]
    ddb_s = ddb_seconds(phase)
    short = [size for size in bulk.page_sizes if size < bulk.page_size]
    lines = [
        f"### Bulk enrollment job over {n} customers",
        "",
        f"Command: `{command}` (run after the fire, in the same process and tenant; `--sop-only` runs it too, "
        "`--sop-customers N` changes N).",
        "",
        f"- The job reuses the {n} customers created above (none is created for it). The warm-up customers were "
        f"added a minute before them, so the job's filter `{bulk.filter}` (customers added at or after that "
        "minute: a key condition on the customer list index, no filter expression) selects exactly the measured "
        "ones.",
        "- A third plan, published through the API as the other two, with the steps below: its first step is "
        "day-based (the next day at 10:00), so every enrollment of the job falls into one bucket and nothing is "
        "due now (nothing fires inline). Manual trigger, audience stage `new` (which also takes the `nurturing` "
        "customers the first plan made), re-entry never.",
        "- The job is the app's `BulkEnrollment`, wired as `chalicelib/bootstrap.py` wires `services().bulk` "
        "(the store, the engine's enrollments and kernel) but over the bench's engine above (virtual clock at "
        f"{bulk.enrolled_at}, metered Scheduler adapter). `start(tenant, plan_id, filter)` as the API calls it "
        f"(creates the job and runs one {fmt(bulk.start_budget_s)} s slice), then "
        f"`advance(tenant, job_id, budget_seconds={fmt(bulk.budget_s)})` until the job is done, as the backstop "
        f"continues it (`chalicelib/jobs/sop.py` `BULK_SECONDS` per tenant per run, a run every {BACKSTOP_MINUTES} "
        "minutes); here the calls follow one another at once. A call checks its budget before each page, so it "
        f"can run one page over. A page is {bulk.page_size} customers: one listing Query, one plan read, one "
        "BatchGetItem of profiles and one of enrollments, then per customer a roster put, an enrollment put, its "
        "timeline entry and a touch put, and the job's advance (a put conditional on its step).",
        "- Time per page: a thin wrapper on the store's `list_customers` notes when each page's listing starts; a "
        "page lasts until the next one's listing starts or its call returns. Wall time runs from `start` to the "
        "last `advance` returning. Meters and audit as above.",
        "",
    ]
    lines += table(
        ["step", "day", "at", "content type", "executor"],
        [[sid, str(day), at, kind, "owner"] for sid, day, at, kind in bulk.plan_steps],
    )
    lines += [""]
    lines += table(
        ["figure", "value"],
        [
            ["customers selected by the filter", str(bulk.selected)],
            [
                "job outcome",
                f"{job.get('status')}: scanned {job.get('scanned')}, enrolled {job.get('enrolled')}, skipped "
                f"{job.get('skipped')}",
            ],
            [
                "calls",
                f"`start` (one {fmt(bulk.start_budget_s)} s slice) + {bulk.advance_calls} `advance` call(s) of "
                f"{fmt(bulk.budget_s)} s, each standing for one backstop run",
            ],
            [
                f"slices (pages of {bulk.page_size} customers)",
                f"{bulk.pages}; per call (start first): {list_values([str(c) for c in bulk.call_pages])}"
                + (f"; not full: {list_values([str(x) for x in short])} customers" if short else "")
                + (
                    " (the listing returns a cursor after a full page, so a job whose customers fill whole pages "
                    "ends with an empty one)"
                    if bulk.page_sizes and bulk.page_sizes[-1] == 0
                    else ""
                ),
            ],
            ["wall time per call (s)", list_values([fmt(t, 1) for t in bulk.call_s])],
            [
                "distinct (step, due minute) buckets",
                f"{len(bulk.buckets)}: {list_values(bulk.buckets, 5)}; touches waiting in them {bulk.bucket_touches}",
            ],
            ["Scheduler API calls", f"{phase.scheduler_calls} ({counts(phase.scheduler_ops)})"],
            ["WeCom calls", f"{phase.wecom_total}"],
            ["DynamoDB calls by operation (total)", counts(phase.ddb_ops)],
            ["wall time", f"{fmt(bulk.wall_s, 1)} s; {fmt(phase.per_thousand_s, 2)} s per 1,000 customers"],
            [
                f"time per page of {bulk.page_size} (ms)",
                f"median {fmt(stats.median(page_ms), 0)}, p90 {fmt(stats.percentile(page_ms, 90), 0)}, max "
                f"{fmt(max(page_ms), 0)} (over {len(full) or len(bulk.page_s)} full pages)",
            ],
            [
                "time in DynamoDB calls",
                f"{fmt(ddb_s, 1)} s ({fmt(100 * ddb_s / bulk.wall_s if bulk.wall_s else 0, 0)}% of wall)",
            ],
        ],
    )
    lines += [""]
    lines += table(["DynamoDB capacity", "total", "per customer"], capacity_rows(phase, "customer"))
    lines += ["", BULK_CALL_NOTE, ""]
    lines += table(by_op_headers("customer"), by_op_rows(phase))
    lines += ["", bulk_estimate_line(bulk)]
    return lines


def bulk_hot_spots(bulk: BulkResults) -> list[str]:
    """What the bulk job's reads cost, from its calls."""
    phase, n = bulk.phase, max(bulk.phase.n, 1)
    reads = phase_calls(phase, "BatchGetItem", "C/ENR")
    if not reads:
        return []
    asked = sum(r.keys_requested for r in reads)
    found = sum(r.items_returned for r in reads)
    billed = sum(r.capacity.billed_read for r in reads)
    reported = sum(r.capacity.read for r in reads)
    total = phase.capacity.billed_read
    return [
        f"**The bulk job's enrollment reads are billed for customers not enrolled.** Each page reads its "
        f"customers' enrollments in the plan (`get_enrollments`, strongly consistent) to recognise a re-run page: "
        f"{asked} keys asked, {found} found, billed read units {fmt(billed / n, 3)} per customer (DynamoDB Local "
        f"reports {fmt(reported / n, 3)}: it charges nothing for a key it does not find; billed adds the minimum read "
        f"per key, see *Reported vs billed units*). That is {fmt(100 * billed / total if total else 0, 0)}% of "
        "the job's billed reads; an eventually consistent read would halve it, if a re-run page may read a slightly "
        "stale enrollment."
    ]


def bulk_jsonable(bulk: BulkResults, phase: Callable[[SopPhase], dict[str, Any]]) -> dict[str, Any]:
    """The bulk job's figures for ``--json``, its phase put as ``phase`` puts the SOP phases."""
    est = bulk.estimate()
    return {
        **phase(bulk.phase),
        "job": bulk.job,
        "filter": bulk.filter,
        "advance_calls": bulk.advance_calls,
        "pages": bulk.pages,
        "call_pages": bulk.call_pages,
        "call_s": bulk.call_s,
        "page_median_s": stats.median(bulk.page_s) if bulk.page_s else None,
        "buckets": bulk.buckets,
        "bucket_touches": bulk.bucket_touches,
        "estimate": est.__dict__,
    }
