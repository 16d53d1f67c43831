"""The SOP part of docs/performance.md and its targets: pure functions of ``SopResults`` (unit-testable offline). The
bulk job's subsection is bench/bulk_report.py's; the tables both share are bench/common.py's.
"""

from __future__ import annotations

import math
from typing import Any

from bench import stats
from bench.bulk_report import bulk_hot_spots, bulk_jsonable, bulk_targets, render_bulk
from bench.common import (
    STEPS,
    by_op_headers,
    by_op_rows,
    capacity_rows,
    counts,
    ddb_seconds,
    fmt,
    phase_calls,
    table,
)
from bench.sop_results import ENGINE_CALLS, SopPhase, SopResults, units_by_call

# Issue 3, section 8.
FIRE_WRITE_LIMIT = 2.03  # billed write units per touch (issue 8 §8)
ENROLL_WRITE_LIMIT = 2.0  # billed write units per enrollment (issue 8 §8)
BATCH_GET_KEYS = 100  # BatchGetItem's maximum keys per call


def add_msg_template_calls(phase: SopPhase) -> int:
    return sum(v for k, v in phase.wecom.items() if k.endswith("add_msg_template"))


def failed_conditions(phase: SopPhase, operation: str | None = None) -> int:
    return sum(
        1
        for r in phase.ddb
        if r.error == "ConditionalCheckFailedException" and (operation is None or r.operation == operation)
    )


def sop_targets(sop: SopResults, command: str) -> list[tuple[str, str, str, bool, str]]:
    """(name, limit, measured, passed, command) for the issue's two SOP targets and the bench's integrity."""
    enroll, fire = sop.enroll, sop.fire
    buckets = len(sop.buckets)
    per = fire.per_unit
    adds = add_msg_template_calls(fire)
    phases = [enroll, fire] + ([sop.bulk.phase] if sop.bulk is not None else [])
    escaped = {k: sum(p.unmetered.get(k, 0) for p in phases) for k in ("dynamodb", "scheduler", "other")}
    per_enroll = enroll.per_unit
    return [
        (
            "SOP enrollment: DynamoDB write units per enrollment (billed)",
            f"<= {fmt(ENROLL_WRITE_LIMIT)} (+ the bucket item, once per bucket: {buckets} for {enroll.n})",
            f"{fmt(per_enroll.billed_write, 3)} (reported by DynamoDB Local {fmt(per_enroll.write, 3)})",
            per_enroll.billed_write <= ENROLL_WRITE_LIMIT + buckets / max(enroll.n, 1),
            command,
        ),
        (
            f"SOP enrollment: Scheduler API calls for {sop.n} enrollments",
            f"<= {buckets} (distinct (step, due minute) buckets)",
            f"{enroll.scheduler_calls} ({counts(enroll.scheduler_ops)})",
            enroll.scheduler_calls <= buckets,
            command,
        ),
        (
            f"SOP fire: WeCom calls for one bucket of {fire.n} touches over {sop.staff} staff",
            f"= {sop.staff} (one add_msg_template per staff member)",
            f"{fire.wecom_total} ({counts(fire.wecom)})",
            fire.wecom_total == sop.staff and adds == sop.staff,
            command,
        ),
        (
            "SOP fire: DynamoDB write units per touch (billed)",
            f"<= {fmt(FIRE_WRITE_LIMIT)}",
            f"{fmt(per.billed_write, 3)} (reported by DynamoDB Local {fmt(per.write, 3)})",
            per.billed_write <= FIRE_WRITE_LIMIT,
            command,
        ),
        *(bulk_targets(sop.bulk, command) if sop.bulk is not None else []),
        (
            "Bench integrity: SOP AWS calls that escaped the meters (DynamoDB, Scheduler, other)",
            "= 0",
            f"{escaped['dynamodb']}, {escaped['scheduler']}, {escaped['other']}",
            not any(escaped.values()),
            command,
        ),
    ]


BY_CALL_NOTE = (
    "By operation and kind of item, read from the key (`C/PROFILE` a customer's profile, `C/ENR` an enrollment, "
    "`C/F` the customer's timeline (UpdateItem: the month's cap and monthly-limit counter, which also holds the "
    "month's sent touches; PutItem: an entry, such as an enrollment, an exit or a skipped touch), "
    "`BKT/BUCKET` a bucket's registry item, `BKT/*` a touch, `PLB/*` a plan version's bucket list, "
    "`PLE/*` a plan's roster entry, `TASK/TASK` a staff task's head, `TASK/RCPT` its customer ids, "
    "`T/PLAN` a plan head, `PL/V` a plan version; "
    "`table:C` a Query of a customer's partition), with the store method that makes such a call:"
)


def render_sop(sop: SopResults, command: str) -> list[str]:
    enroll, fire = sop.enroll, sop.fire
    lines = [
        "## SOP engine",
        "",
        f"Issue 3, section 8: enrolling {sop.n} customers into a 5-step day-based plan, then firing the one bucket of "
        f"{sop.n} touches those enrollments share, spread over {sop.staff} staff"
        + (", then a bulk enrollment job over the same customers into a third plan" if sop.bulk is not None else "")
        + f". Command: `{command}` (`--sop-only` runs just this part; `--sop-customers N` changes N).",
        "",
        "### Method",
        "",
        f"- Same stack as above (DynamoDB Local, fresh tables, the meter, the calibration). Setup through the API, not "
        f"measured: tenant `sopbench` (Asia/Shanghai), a tenant admin token, {sop.staff} staff, two published plans "
        "with the steps below (the measured one, and an identical warm-up plan; manual trigger, audience stage "
        "`new`, exit on a trial order, re-entry never, priority 10, no silence rule, which would add a timer write "
        "per enrollment); then the customers written "
        "straight through the store (`store.create_customer`, as intake leaves them: profile synced, a channel "
        "touch, an active relation, two tags), owners round-robin over the staff, each a friend of its owner in "
        "the sandbox world.",
        "- The engine is `SopEngine(store, plans, scheduler, wecom, clock, ids)` built from the app's own "
        "`services()` adapters: the DynamoStore on DynamoDB Local, the PlanService (plans read from DynamoDB on "
        "each call), the WeCom client over loopback HTTP to the sandbox (TCP_NODELAY as above), and "
        "`EventBridgeScheduler.for_settings(...)`, the real Scheduler adapter, against **moto's EventBridge "
        "Scheduler** (a moto server on a free port, schedule group provisioned as `make run` does). The one "
        "difference from production is the clock: a virtual one, so the enrollments fall in one local afternoon "
        "and the fire happens at the bucket's minute whatever the wall clock says.",
        "- Scheduler calls are counted by botocore events on the adapter's client (by operation, errors included); "
        "an audit patches botocore's `_make_api_call` while measuring and counts every AWS call of the process by "
        "service, which must equal the meters' counts (the integrity target).",
        f'- Enrollment: `engine.enroll(tenant, customer_id, plan_id, source="bulk")` per customer, the clock '
        f"advanced evenly from {sop.enroll_window}, after {sop.warmup} untimed warm-up enrollments into the "
        "warm-up plan. Latency is `time.perf_counter()` around each call; wall time is the whole loop.",
        f"- Fire: the bucket's schedule is read back from moto and its target input (`{{tenant_id, bucket_id}}`, "
        f"what the fire Lambda receives) is passed to `engine.fire(...)` once, at {sop.fire_at}, after an untimed "
        f"warm-up fire of the warm-up plan's bucket ({sop.warmup} touches, one per staff member; it also fetches "
        "the WeCom access_token, which a warm container holds).",
        "- Billed units: as above, plus failed conditional writes. AWS bills a write whose condition fails (the "
        "write units of the larger of the existing and the new item, at least 1); DynamoDB Local reports nothing "
        "for it (measured by the calibration). The meter bills such a PutItem by the size of the item it tried to "
        "write and an UpdateItem/DeleteItem as 1 unit: a lower bound, exact for items up to 1 KB.",
        "",
    ]
    lines += table(
        ["step", "day", "at", "content type", "executor"],
        [[sid, str(day), at, kind, "owner"] for sid, day, at, kind, _text in STEPS],
    )
    if sop.item_bytes:
        lines += [
            "",
            "Item sizes as DynamoDB counts them (bytes; a read unit covers 4 KB, a write unit 1 KB): "
            + ", ".join(f"{k} {v}" for k, v in sop.item_bytes.items())
            + ".",
        ]
    lines += ["", f"### Enroll {sop.n} customers", ""]
    lat_ms = [s * 1000 for s in enroll.latencies_s] or [0.0]
    ddb_s = ddb_seconds(enroll)
    lines += table(
        ["figure", "value"],
        [
            ["enrollments", f"{enroll.n}, enrolled {sop.enroll_window}"],
            ["distinct (step, due minute) buckets", f"{len(sop.buckets)}: {', '.join(sop.buckets[:5])}"],
            ["Scheduler API calls", f"{enroll.scheduler_calls} ({counts(enroll.scheduler_ops)})"],
            ["WeCom calls", f"{enroll.wecom_total}"],
            ["DynamoDB calls by operation (total)", counts(enroll.ddb_ops)],
            ["wall time", f"{fmt(enroll.wall_s, 1)} s; {fmt(enroll.per_thousand_s, 2)} s per 1,000 enrollments"],
            [
                "latency per enrollment (ms)",
                f"p50 {fmt(stats.median(lat_ms), 2)}, p99 {fmt(stats.percentile(lat_ms, 99), 2)}, "
                f"max {fmt(max(lat_ms), 1)}",
            ],
            [
                "time in DynamoDB calls",
                f"{fmt(ddb_s, 1)} s ({fmt(100 * ddb_s / enroll.wall_s if enroll.wall_s else 0, 0)}% of wall)",
            ],
        ],
    )
    lines += [""]
    lines += table(["DynamoDB capacity", "total", "per enrollment"], capacity_rows(enroll, "enrollment"))
    lines += ["", BY_CALL_NOTE, ""]
    lines += table(by_op_headers("enrollment"), by_op_rows(enroll))
    lines += ["", f"### Fire one bucket of {fire.n} touches over {sop.staff} staff", ""]
    rep = sop.fire_report
    sizes = [int(t["customers"]) for t in sop.tasks] or [0]
    ddb_s = ddb_seconds(fire)
    lines += table(
        ["figure", "value"],
        [
            ["touches waiting in the bucket", str(sop.bucket_touches)],
            [
                "outcome (FireReport)",
                ", ".join(f"{k} {v}" for k, v in rep.items() if k not in ("bucket_id", "reasons") and v)
                + (f"; reasons {rep['reasons']}" if rep.get("reasons") else ""),
            ],
            [
                "staff tasks created",
                f"{len(sop.tasks)} (customers per task: min {min(sizes)}, max {max(sizes)}; "
                f"statuses {counts(_tally(str(t['status']) for t in sop.tasks))})",
            ],
            ["WeCom calls by API", f"{fire.wecom_total} ({counts(fire.wecom)})"],
            [
                "Scheduler API calls (the next step's buckets)",
                f"{fire.scheduler_calls} ({counts(fire.scheduler_ops)}) for {len(sop.next_buckets)} bucket(s): "
                + ", ".join(sop.next_buckets[:5]),
            ],
            ["DynamoDB calls by operation (total)", counts(fire.ddb_ops)],
            ["wall time", f"{fmt(fire.wall_s, 1)} s; {fmt(fire.per_thousand_s, 2)} s per 1,000 touches"],
            [
                "time in DynamoDB calls",
                f"{fmt(ddb_s, 1)} s ({fmt(100 * ddb_s / fire.wall_s if fire.wall_s else 0, 0)}% of wall)",
            ],
        ],
    )
    lines += [""]
    lines += table(["DynamoDB capacity", "total", "per touch"], capacity_rows(fire, "touch"))
    lines += ["", BY_CALL_NOTE, ""]
    lines += table(by_op_headers("touch"), by_op_rows(fire))
    if sop.bulk is not None:
        lines += ["", *render_bulk(sop.bulk, command)]
    lines += ["", "### Where the cost goes", ""]
    lines += [f"- {line}" for line in hot_spots(sop)]
    return [*lines, ""]


def _tally(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def hot_spots(sop: SopResults) -> list[str]:
    """Findings computed from the measurement, each with its numbers, for the doc (the engine is not changed here)."""
    out = []
    enroll, fire = sop.enroll, sop.fire
    n = max(fire.n, 1)
    reads = phase_calls(fire, "GetItem", "C/PROFILE") + phase_calls(fire, "GetItem", "C/ENR")
    if reads:
        get_s = sum(r.seconds for r in reads)
        rcu = sum(r.capacity.billed_read for r in reads)
        batches = math.ceil(len(reads) / BATCH_GET_KEYS)
        out.append(
            f"**Per-touch GetItem in the fire.** `fire` reads each touch's customer (`get_customer`, eventually "
            f"consistent) and enrollment (`get_enrollment`, strongly consistent) one GetItem at a time: "
            f"{len(reads)} calls ({fmt(len(reads) / n, 2)} per touch), {fmt(get_s, 1)} s of the fire's "
            f"{fmt(fire.wall_s, 1)} s ({fmt(100 * get_s / fire.wall_s if fire.wall_s else 0, 0)}%), "
            f"{fmt(rcu / n, 2)} billed read units per touch. The obvious optimisation is BatchGetItem (100 keys a "
            f"call, e.g. per page of `touches_in`): {batches} calls instead of {len(reads)}, removing nearly all of "
            "that round-trip time. It does not lower the read units: BatchGetItem bills each item as GetItem does "
            "(rounded up to 4 KB, 1 unit strongly consistent, 0.5 eventually); only reading less would (e.g. the "
            "enrollment's status kept on the touch)."
        )
    for phase, what in ((enroll, "enrollment"), (fire, "touch")):
        failed = [
            r for r in phase_calls(phase, "PutItem", "BKT/BUCKET") if r.error == "ConditionalCheckFailedException"
        ]
        if failed:
            billed = sum(r.capacity.billed_write for r in failed)
            secs = sum(r.seconds for r in failed)
            out.append(
                f"**`register_bucket` on every touch ({phase.key}).** {len(failed)} conditional PutItem calls on "
                f"the bucket item failed their condition ({fmt(len(failed) / max(phase.n, 1), 3)} per {what}; only "
                f"a bucket's first touch registers it and creates its schedule): billed write units that write "
                f"nothing, {fmt(billed / max(phase.n, 1), 3)} per {what} (DynamoDB Local reports them as free), and "
                f"{fmt(secs, 1)} s of round trips. Remembering registered bucket ids in the engine (the item is "
                "never deleted, so a container-wide set is safe), or registering the next step's bucket once per "
                "fire, saves 1 write unit and 1 round trip per touch."
            )
    from chalicelib.services.sop.customer_policy import RIVALS_BY_PLAN  # the app is imported only to report a run

    rivals = phase_calls(fire, "Query", "table:C")
    if rivals:
        out.append(
            f"**A Query of the customer's enrollments per capped touch.** Before taking the daily cap, `fire` asks "
            f"whether a higher-priority plan has this customer's capped touch later today (`_rivals` -> "
            f"`enrollments_of`, strongly consistent): {len(rivals)} Query calls, billed read units "
            f"{fmt(sum(r.capacity.billed_read for r in rivals) / n, 3)} per touch, and "
            f"{fmt(sum(r.seconds for r in rivals), 1)} s here. A fire of at least "
            f"{RIVALS_BY_PLAN} touches asks only when another published plan of higher priority has a step of the "
            "same content type (`fate.priority_peaks`, read once per fire)."
        )
    else:
        versions = phase_calls(fire, "Query", "table:PL")
        out.append(
            "**No enrollment read per capped touch.** Before taking the daily cap, a fire of at least "
            f"{RIVALS_BY_PLAN} touches asks once whether any other published plan could outrank its step "
            f"(`fate.priority_peaks` over every published plan's versions: {len(versions)} version listing(s) "
            "here); none could (the other plan has the same priority), so no customer's enrollments were read. "
            "A smaller fire, or one a higher-priority plan could outrank, reads each capped customer's enrollments "
            "(one Query per touch)."
        )
    plan_reads = phase_calls(enroll, "GetItem", "T/PLAN")
    if plan_reads:
        out.append(
            f"**The plan read on every enrollment.** `enroll` reads the plan head (`plans.current_plan`) for each "
            f"customer: {len(plan_reads)} GetItem calls, billed read units "
            f"{fmt(sum(r.capacity.billed_read for r in plan_reads) / max(enroll.n, 1), 3)} per enrollment, and "
            f"{fmt(sum(r.seconds for r in plan_reads), 1)} s for {enroll.n} enrollments. "
            + (
                "A bulk enrollment could read the plan once per slice (an `enroll_many` taking the plan)."
                if sop.bulk is None
                else f"The bulk job reads it once per page instead: "
                f"{len(phase_calls(sop.bulk.phase, 'GetItem', 'T/PLAN'))} GetItem calls for {sop.bulk.phase.n} "
                "customers, and its profiles and enrollments with one BatchGetItem each per page."
            )
        )
    if sop.bulk is not None:
        out += bulk_hot_spots(sop.bulk)
    per = fire.per_unit
    units = units_by_call(fire.ddb)
    wasted = sum(
        r.capacity.billed_write
        for r in phase_calls(fire, "PutItem", "BKT/BUCKET")
        if r.error == "ConditionalCheckFailedException"
    )
    tasks = sum(units.get(("PutItem", f"TASK/{sk}"), (0.0, 0.0))[1] for sk in ("TASK", "RCPT"))
    head_bytes = sop.item_bytes.get("staff task head (median)")
    ids_bytes = sop.item_bytes.get("staff task recipients (median)")
    out.append(
        f"**Fire writes per touch**, billed: {fmt(per.billed_write, 3)} (reported by DynamoDB Local: "
        f"{fmt(per.write, 3)}); limit {fmt(FIRE_WRITE_LIMIT)}. By call: "
        + ", ".join(f"{ENGINE_CALLS.get(key) or ' '.join(key)} {fmt(w / n, 4)}" for key, (_r, w) in units.items() if w)
        + f". Without the failed `register_bucket` puts it would be {fmt(per.billed_write - wasted / n, 3)}: a "
        "sent touch needs two 1-unit writes by design (`move_touch` claims it and, in the same write, names the "
        "enrollment's next touch, which is implied and written only when its own bucket fires; `take_quota` counts "
        "it against the daily cap and the monthly limit and, in the same write, appends a record of under 100 "
        "bytes of the sent touch to that month's quota item on the timeline, `F#…#Q#<month>`: 1 unit while the "
        "item is under 1 KB, about 9 sent touches a month, docs/data-model.md). A plan's last step has no next "
        "touch and ends the enrollment instead (`end_enrollment`, a third 1-unit write; a completion writes no "
        "timeline entry, the sent touch says it); a skipped touch writes a timeline entry (1 unit; none is skipped "
        "here). The rest is the staff tasks, "
        f"{fmt(tasks / n, 3)} per touch"
        + (
            f" (each task's head, {head_bytes} bytes, is written twice, `create_task` then `save_task`, and copied "
            f"to gsi1, whose projection is ALL; its {fire.n // max(sop.staff, 1)} customer ids, {ids_bytes} bytes, "
            "once, beside the head and in no index)"
            if head_bytes and ids_bytes
            else ""
        )
        + "."
    )
    return out


def sop_summary_lines(sop: SopResults) -> list[str]:
    e, f = sop.enroll, sop.fire
    bulk = []
    if sop.bulk is not None:
        b, est = sop.bulk, sop.bulk.estimate()
        bulk = [
            f"SOP bulk job x{b.phase.n}: {b.job.get('status')}, enrolled {b.job.get('enrolled')} skipped "
            f"{b.job.get('skipped')} in start + {b.advance_calls} advance call(s), {b.pages} pages; billed W "
            f"{fmt(b.phase.per_unit.billed_write, 3)} R {fmt(b.phase.per_unit.billed_read, 3)} per customer; "
            f"{fmt(b.wall_s, 1)} s, {fmt(b.phase.per_thousand_s, 2)} s/1000; scaled to {est.customers}: "
            f"{fmt(est.wall_s, 0)} s, {est.backstop_runs} backstop run(s)"
        ]
    return [
        f"SOP enroll x{e.n}: scheduler {e.scheduler_calls} call(s) for {len(sop.buckets)} bucket(s); billed W "
        f"{fmt(e.per_unit.billed_write, 3)} R {fmt(e.per_unit.billed_read, 3)} per enrollment "
        f"(W total {fmt(e.capacity.billed_write, 0)}); {fmt(e.wall_s, 1)} s, {fmt(e.per_thousand_s, 2)} s/1000",
        f"SOP fire x{f.n}: wecom {f.wecom_total} ({counts(f.wecom)}); billed W {fmt(f.per_unit.billed_write, 3)} "
        f"R {fmt(f.per_unit.billed_read, 3)} per touch; {fmt(f.wall_s, 1)} s, {fmt(f.per_thousand_s, 2)} s/1000; "
        f"ddb {counts(f.ddb_ops)}",
        *bulk,
    ]


def sop_jsonable(sop: SopResults) -> dict[str, Any]:
    def phase(p: SopPhase) -> dict[str, Any]:
        return {
            "n": p.n,
            "wall_s": p.wall_s,
            "per_thousand_s": p.per_thousand_s,
            "capacity": p.capacity.__dict__,
            "per_unit": p.per_unit.__dict__,
            "ddb_ops": p.ddb_ops,
            "scheduler_ops": p.scheduler_ops,
            "wecom": p.wecom,
            "latency_p50_ms": stats.median([s * 1000 for s in p.latencies_s]) if p.latencies_s else None,
            "unmetered": p.unmetered,
        }

    return {
        "n": sop.n,
        "staff": sop.staff,
        "buckets": sop.buckets,
        "next_buckets": sop.next_buckets,
        "enroll": phase(sop.enroll),
        "fire": phase(sop.fire),
        "fire_report": sop.fire_report,
        "item_bytes": sop.item_bytes,
        "bulk": bulk_jsonable(sop.bulk, phase) if sop.bulk is not None else None,
    }
