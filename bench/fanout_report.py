"""The fan-out part of docs/performance.md and its targets (issue 8 §7): pure functions of ``FanoutResults``."""

from __future__ import annotations

from typing import Any

from bench.common import fmt, table
from bench.fanout_results import FanoutResults, FanoutRun

# Issue 8, section 7.
LAST_TASK_TOUCHES = 10_000
LAST_TASK_LIMIT_S = 40.0  # 10,000 touches: the last task within 40 s of the bucket's minute (one invocation: 111 s)
FLAT_RATIO = 1.5  # "flat": the largest shard of the bigger bucket takes at most 1.5x the smaller one's


def _flat_pair(results: FanoutResults) -> tuple[FanoutRun, FanoutRun] | None:
    """The two runs the flatness target compares: 10,000 over 20 staff and 100,000 over 200 (--large), or else the
    smallest and the largest bucket measured."""
    runs = sorted(results.runs, key=lambda r: r.touches)
    if len(runs) < 2:
        return None
    small = results.run(LAST_TASK_TOUCHES) if results.large else None
    return (small or runs[0]), runs[-1]


def fanout_targets(results: FanoutResults, command: str) -> list[tuple[str, str, str, bool, str]]:
    """(name, limit, measured, passed, command) for §7's targets and the fan-out's own invariants."""
    out: list[tuple[str, str, str, bool, str]] = []
    ten = results.run(LAST_TASK_TOUCHES)
    if ten is not None:
        out.append(
            (
                f"Fan-out: {LAST_TASK_TOUCHES:,} touches over {ten.staff} staff, fire start to last task created",
                f"<= {fmt(LAST_TASK_LIMIT_S, 0)} s",
                f"{fmt(ten.last_task_s, 1)} s ({ten.shards} shards)",
                ten.last_task_s <= LAST_TASK_LIMIT_S,
                command,
            )
        )
    pair = _flat_pair(results)
    if pair is not None:
        small, big = pair
        ratio = big.largest_shard_s / small.largest_shard_s if small.largest_shard_s else float("inf")
        out.append(
            (
                f"Fan-out: largest shard's wall time, {big.touches:,} touches over {big.staff} staff vs "
                f"{small.touches:,} over {small.staff}",
                f"<= {fmt(FLAT_RATIO)}x",
                f"{fmt(ratio, 2)}x ({fmt(big.largest_shard_s, 2)} s vs {fmt(small.largest_shard_s, 2)} s)",
                ratio <= FLAT_RATIO,
                command,
            )
        )
    out.append(
        (
            "Fan-out: no invocation over its bound; every touch sent once",
            f"<= {results.bound} touches per shard; sent = touches",
            "; ".join(f"{r.touches:,}: largest {r.largest_shard}, sent {r.sent:,}" for r in results.runs) or "none",
            bool(results.runs) and all(r.largest_shard <= results.bound and r.sent == r.touches for r in results.runs),
            command,
        )
    )
    return out


def render_fanout(results: FanoutResults, command: str) -> list[str]:
    lines = [
        "## A fire that fans out",
        "",
        "Issue 8, section 7: a bucket larger than one shard is split by executor into shards of at most "
        f"{results.bound} touches (`SIYU_FIRE_SHARD_SIZE`), each fired by its own invocation (docs/operations.md, "
        f'"A fire that fans out"). Command: `{command}` (`--large` adds the 100,000-touch bucket).',
        "",
        "### Method",
        "",
        "- Same stack (DynamoDB Local, the WeCom sandbox, the app's own adapters). Per bucket size, not measured: a "
        "published plan through the API and the customers written through the store, owners round-robin over the "
        "staff, enrolled at one instant (so their first touches share one bucket, each with its executor hint).",
        f"- Measured: the coordinator's `engine.fire(tenant_id, bucket_id)` at the bucket's minute, its shards run "
        f"by the local dispatcher (`ProcessShards`, {results.workers} worker processes — one per core, standing in "
        "for concurrent Lambda invocations, each of which has its own interpreter and CPU). A worker is given the "
        "shard's event as deployed (`shard_event`, decoded) and runs the fire entry point "
        "(`chalicelib.jobs.sop.fire`) with services it built from the environment at start-up; the workers are "
        "started and their services built before the fire (warm containers), and the virtual time is a "
        "`FileClock` file they share with the coordinator. Judging and claims within a shard run "
        f"{results.writers} at a time. Shards in threads of one process (`ThreadedShards`, the local stack's "
        "dispatcher) would be serialised on its GIL, which no deployed shard shares: on this machine the 10,000-touch "
        "fire took 35-42 s that way against about 28 s in processes. *Last task* is the wall time from the "
        "fire's start to the end of the last shard (its last task is created just before); a deployed fire starts "
        "a few seconds after the minute (Scheduler's own delay) and each shard adds an async invocation's start "
        "(tens of milliseconds warm).",
        "",
    ]
    rows = [
        [
            f"{r.touches:,}",
            str(r.staff),
            str(r.shards),
            str(r.largest_shard),
            fmt(r.coordinator_s, 2),
            fmt(r.median_shard_s, 2),
            fmt(r.largest_shard_s, 2),
            fmt(r.last_task_s, 1),
            f"{r.sent:,}",
            str(r.tasks),
            str(r.add_msg_template),
        ]
        for r in results.runs
    ]
    lines += table(
        [
            "touches",
            "staff",
            "shards",
            "largest shard (touches)",
            "coordinator (s)",
            "median shard (s)",
            "largest shard (s)",
            "last task (s)",
            "sent",
            "tasks",
            "add_msg_template",
        ],
        rows,
    )
    lines += [
        "",
        "### What it means on AWS",
        "",
        "- **DynamoDB request latency.** A shard's time is its calls: per touch a quota write and a claim, run a "
        "few at a time (and, for a capped step that another published plan of higher priority could outrank, the "
        "customer's other enrollments read; a shard asks the published plans once whether any could), per page of "
        "200 two batched reads, per executor a task and one WeCom call. DynamoDB answers a single-item write in "
        "single-digit milliseconds within a region, near DynamoDB Local's figures here, so a shard of "
        f"{results.bound} touches takes a few seconds and a bucket's last task comes about one shard's time after "
        "the coordinator has listed it (the coordinator's one sequential read, in 1 MB pages).",
        "- **Lambda concurrency.** Shards run at once up to the account's concurrency (1,000 per region by "
        "default, shared by every function; a reserved concurrency on the fire function keeps the API served). "
        "200 shards of a 100,000-touch bucket fit; a bucket larger than bound × available concurrency queues its "
        "surplus shards in Lambda's async queue, which delays, never loses them.",
        "- **Account limits.** On-demand tables absorb twice their previous peak at once and adapt; a first burst "
        "on a new table may throttle, which boto3 retries. WeCom's own per-corp rate limits are unchanged: one "
        "`add_msg_template` per executor per shard.",
        "",
    ]
    return lines


def fanout_summary_lines(results: FanoutResults) -> list[str]:
    return [
        f"SOP fan-out x{r.touches} over {r.staff} staff: {r.shards} shards (largest {r.largest_shard}); last task "
        f"{fmt(r.last_task_s, 1)} s; largest shard {fmt(r.largest_shard_s, 2)} s; coordinator "
        f"{fmt(r.coordinator_s, 2)} s; sent {r.sent}, tasks {r.tasks}"
        for r in results.runs
    ]


def fanout_jsonable(results: FanoutResults) -> dict[str, Any]:
    return {
        "bound": results.bound,
        "workers": results.workers,
        "writers": results.writers,
        "runs": [
            {
                "touches": r.touches,
                "staff": r.staff,
                "shards": r.shards,
                "largest_shard": r.largest_shard,
                "coordinator_s": r.coordinator_s,
                "largest_shard_s": r.largest_shard_s,
                "last_task_s": r.last_task_s,
                "sent": r.sent,
                "tasks": r.tasks,
                "add_msg_template": r.add_msg_template,
            }
            for r in results.runs
        ],
    }
