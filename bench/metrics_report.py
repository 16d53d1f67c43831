"""The metrics read bench's section of docs/performance.md, its targets, summary lines and JSON digest: pure functions
of bench/metrics.py's results (unit-testable offline)."""

from __future__ import annotations

from typing import Any

from bench.common import counts, fmt, table
from bench.metrics import CHANNELS, GROUPS, PLANS, READS, STAFF, STEPS, WARMUP, MetricsResults, MetricsRun


def _ends(results: MetricsResults) -> tuple[MetricsRun, MetricsRun] | None:
    runs = [r for r in results.runs if r.reads]
    if len(runs) < 2:
        return None
    return min(runs, key=lambda r: r.customers), max(runs, key=lambda r: r.customers)


def metrics_targets(results: MetricsResults, command: str) -> list[tuple[str, str, str, bool, str]]:
    """Issue 11 §3: a read costs the same whatever the number of customers (billed read units, median of the
    measured reads; every read of a run costs the same, so the median is each of them)."""
    ends = _ends(results)
    if ends is None:
        return []
    small, large = ends
    escaped = sum(r.unmetered for r in results.runs)
    return [
        (
            f"Metrics read (funnel, {len(results.days)} days): billed read units at {large.customers:,} vs "
            f"{small.customers:,} customers",
            f"= at {small.customers:,} ({fmt(small.billed_read)})",
            fmt(large.billed_read),
            abs(large.billed_read - small.billed_read) < 1e-9,
            command,
        ),
        ("Bench integrity: metrics reads' DynamoDB calls that escaped the meter", "= 0", str(escaped), escaped == 0,
         command),
    ]  # fmt: skip


def render_metrics(results: MetricsResults, command: str) -> list[str]:
    ends = _ends(results)
    sizes = " and ".join(f"{r.customers:,}" for r in results.runs)
    lines = [
        f"## Metrics read: the funnel at {sizes} customers (issue 11 §3)",
        "",
        f"`GET /t/{{tenant}}/metrics/funnel?from={results.days[0]}&to={results.days[-1]}&by=channel` (7 local days) "
        f"through the app for tenants of {sizes} customers, the same configuration otherwise: {CHANNELS} channels, "
        f"{STAFF} staff, {PLANS} published plans of {STEPS} steps (10% holdout), {GROUPS} groups. Command: "
        f"`{command}`.",
        "",
        "- The facts (bench/metrics_facts.py): each customer is added on one of the 7 days through one of the "
        "channels by its staff member; by fixed shares of the customers, enrolled in a plan (60%, a tenth of them "
        "held out), touched on one step (or skipped: holdout), a message (a third), a trial order (20%, free or 9.9 "
        "yuan), a full-price order (5%), lost (1 in 17). Each fact is built by "
        "`chalicelib.domain.metrics.recording` as the metrics writer builds it. Each channel-day has its exposure "
        "(uv) and spend, and each group-day its member count, scaled with the customers.",
        "- Not measured, the smaller tenant: every customer's facts recorded through the metrics writer's store "
        "call, `store.record_metric_fact` (the fact log entry, first-occurrence markers, counter ADDs, once per "
        "identity).",
        "- Not measured, the larger tenant: writing its 300,000+ items (log entries, markers, counter ADDs) into "
        "DynamoDB Local one by one is too slow for a bench, so the same kinds of facts are generated in memory for "
        "every customer, counted as the store counts them (a person's first occurrences once) and folded with "
        "`chalicelib.domain.metrics.facts.fold`, which is what the rebuild does, and the resulting day counters are "
        "written with `store.replace_metric_counters`, the rebuild's own write. The counters are exactly what those "
        "facts leave, and the read path is identical; the fact log is not needed for the read (it never reads it). "
        "The first customers' facts (as many as the smaller tenant has) go through `record_metric_fact` first, so "
        "the fact path is exercised at this size too; the fold covers them as well, so the counters written last are "
        "every customer's. Customer profiles are not written for either tenant: the "
        "read never reads a customer item (the calls by item kind below name every item the read touched).",
        "- Checked: the funnel's adds, trial and full-price persons equal what the facts fold to, at both sizes "
        "(for the smaller tenant that checks the writer's counters against the fold).",
        f"- Measured: {READS} reads after {WARMUP} warm-up reads (the tenant cached, as in a warm container), each "
        "metered as the other parts are (botocore events on every app client; billed units as AWS bills them). "
        "Every read of a run costs the same; the table shows the median, the latency's p50.",
        "",
    ]
    rows = []
    for run in results.runs:
        low, high = run.billed_read_spread
        spread = fmt(run.billed_read) if low == high else f"{fmt(run.billed_read)} ({fmt(low)}-{fmt(high)})"
        how = f"{run.facts_recorded:,} recorded"
        if run.facts_folded:
            how += f"; all {run.facts_folded:,} folded into {run.counter_items:,} day counters"
        rows.append(
            [
                f"{run.customers:,}",
                how,
                ", ".join(f"{k} {v:,}" for k, v in run.funnel.items()),
                spread,
                f"{run.batch_keys:,} / {run.batch_found:,}",
                counts(run.ops),
                fmt(run.p50_ms, 1),
            ]
        )
    headers = ["customers", "facts", "funnel (read)", "read units (billed)", "BatchGetItem keys asked / found"]
    headers += ["DynamoDB calls", "latency p50 (ms)"]
    lines += table(headers, rows)
    if ends is not None:
        small, large = ends
        labels = sorted(set(small.items) | set(large.items))
        lines += [
            "",
            "Where one read's units go, by operation and item kind (the kind of key, bench/capacity.py `key_label`):",
            "",
        ]
        item_rows = [
            [
                label,
                str(small.items.get(label, 0)),
                fmt(small.units.get(label, 0.0)),
                str(large.items.get(label, 0)),
                fmt(large.units.get(label, 0.0)),
            ]
            for label in labels
        ]
        lines += table(
            [
                "call `item kind`",
                f"calls at {small.customers:,}",
                f"read units at {small.customers:,}",
                f"calls at {large.customers:,}",
                f"read units at {large.customers:,}",
            ],
            item_rows,
        )
        lines += [
            "",
            "A BatchGetItem key costs 0.5 read units whether its item exists or not (an item under 4 KB, eventually "
            "consistent; a key that finds nothing is billed the minimum, see *Reported vs billed units*), so the "
            "counters' share is half the keys: (the channels and their 3 fixed rows, staff, plan steps, plans, the "
            "tenant twice, the cohort weeks) x the days, and the spend's is channels x days. A Query that finds "
            "nothing (a group's members before the range, WeCom's statistics where none were fetched) reports 0.",
        ]
    lines += [
        "",
        "Why they are equal: every key the read asks for is an entity × a day. The funnel's counters are one item per "
        "dimension id per local day (`T#<tid>#MC#<dimension>#<id>` / `D#<date>`: channels, staff, plan steps, plans, "
        "the tenant, the range's cohort weeks), fetched by BatchGetItem for the configured entities and the 7 days; "
        "the lists of channels, staff, plans and groups are Queries of the tenant's configuration; a group's and a "
        "channel's exposure days are one range Query of their own partition. A customer more changes the numbers "
        "inside those items, never their count, and an item stays far below 4 KB (one read unit each, eventually "
        "consistent 0.5) however large the numbers grow. Nothing reads a customer, the fact log or a marker.",
        "",
    ]
    return lines


def metrics_summary_lines(results: MetricsResults) -> list[str]:
    return [
        f"metrics funnel read, {run.customers:,} customers: R {fmt(run.billed_read)}; ddb {counts(run.ops)}; "
        f"p50 {fmt(run.p50_ms, 1)} ms"
        for run in results.runs
    ]


def metrics_jsonable(results: MetricsResults) -> dict[str, Any]:
    return {
        str(run.customers): {
            "billed_read": run.billed_read,
            "ops": run.ops,
            "items": run.items,
            "units": run.units,
            "p50_ms": run.p50_ms,
            "funnel": run.funnel,
            "facts_recorded": run.facts_recorded,
            "facts_folded": run.facts_folded,
            "counter_items": run.counter_items,
            "unmetered": run.unmetered,
            "batch_keys": run.batch_keys,
            "batch_found": run.batch_found,
        }
        for run in results.runs
    }
