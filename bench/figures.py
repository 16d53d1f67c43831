"""bench/figures.json: the per-operation figures the cost model (infra/cost.py) bills, from one bench run's digest.

A pure function of `report.as_jsonable(...)`, so it is tested offline. Only what the bench measured goes in; an
operation it does not measure is listed under "unmeasured" and the cost model prints it as such (it never guesses).
Durations are the in-process wall times on DynamoDB Local over loopback (slower per call than DynamoDB in a Region),
so the Lambda GB-seconds they give are an upper bound.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import stats

FIGURES_PATH = Path(__file__).resolve().parent / "figures.json"
DIGEST_PATH = Path(__file__).resolve().parent / "digest.json"  # the run's digest the figures were reduced from
# What the cost model would bill and the bench does not measure (yet): printed as "unmeasured", never estimated.
UNMEASURED = {
    "business_event": "POST /t/{tenant}/events (a business event): not in this run (bench --events-only)",
    "log_bytes": "bytes of JSON log lines and EMF metrics per operation: not benched",
    "egress_bytes": "bytes to and from qyapi.weixin.qq.com per WeCom call (NAT data processing): not benched",
    "periodic_jobs": "backstop, task_sync and silence runs: their duration and reads per run are not benched",
    "secret_reads": "SSM GetParameter calls (cached per container; KMS decrypts): not benched",
    "cold_start_share": "how many invocations start cold: not benched (the cold import time is)",
}


def _op(
    what: str,
    source: str,
    *,
    rcu: float,
    wcu: float,
    function: str | None = None,
    invocations: float = 0.0,
    duration_ms: float | None = None,
    api_requests: float = 0.0,
    scheduler_calls: float = 0.0,
) -> dict[str, Any]:
    return {
        "what": what,
        "source": source,
        "billed_rcu": round(rcu, 4),
        "billed_wcu": round(wcu, 4),
        "function": function,
        "invocations": invocations,
        "duration_ms": None if duration_ms is None else round(duration_ms, 3),
        "api_requests": api_requests,
        "scheduler_calls": scheduler_calls,
    }


def _callbacks(scenarios: dict[str, Any], out: dict[str, Any]) -> None:
    for key, name, what in (
        ("new", "new_customer", "a new customer's first callback (scan of a channel code)"),
        ("duplicate", "duplicate_callback", "WeCom re-delivering a callback already applied"),
    ):
        s = scenarios.get(key)
        if s is None:
            continue
        out[name] = _op(
            what,
            f"scenario {key}: billed units mean, latency p50",
            rcu=s["billed_read"]["mean"],
            wcu=s["billed_write"]["mean"],
            function="api_handler",
            invocations=1,
            duration_ms=s["latency_ms"]["p50"],
            api_requests=1,
        )


def _sop(sop: dict[str, Any], fanout: dict[str, Any] | None, out: dict[str, Any]) -> None:
    enroll, fire = sop["enroll"], sop["fire"]
    out["enrollment"] = _op(
        "one customer enrolled in a plan (its first touch queued; within the request or job that enrolls)",
        f"sop enroll, {enroll['n']} enrollments: billed units per enrollment, latency p50",
        rcu=enroll["per_unit"]["billed_read"],
        wcu=enroll["per_unit"]["billed_write"],
        function="api_handler",
        duration_ms=enroll["latency_p50_ms"],
    )
    runs = (fanout or {}).get("runs") or []
    biggest = max(runs, key=lambda r: r["touches"]) if runs else None
    out["bucket"] = _op(
        "one (step, due minute) bucket: its schedule created once and fired once (the fire's coordinator run)",
        f"sop: Scheduler calls for {len(sop['buckets'])} bucket(s) of {enroll['n']} enrollments"
        + (f"; fan-out coordinator of {biggest['touches']:,} touches" if biggest else ""),
        rcu=0,
        wcu=0,
        function="fire",
        invocations=1,
        duration_ms=biggest["coordinator_s"] * 1000 if biggest else None,
        scheduler_calls=sum(enroll["scheduler_ops"].values()) / max(len(sop["buckets"]), 1),
    )
    bound = fanout["bound"] if fanout else None
    out["touch"] = _op(
        "one touch fired (claimed, quota taken, in its staff member's task)"
        + (f"; a shard invocation per {bound} touches" if bound else ""),
        f"sop fire, {fire['n']} touches: billed units per touch, wall time per touch"
        + ("; fan-out bound" if bound else ""),
        rcu=fire["per_unit"]["billed_read"],
        wcu=fire["per_unit"]["billed_write"],
        function="fire",
        invocations=1 / bound if bound else 0.0,
        duration_ms=fire["wall_s"] / max(fire["n"], 1) * 1000,
    )


def _groups(groups: dict[str, Any] | None, joins: dict[str, Any] | None, out: dict[str, Any]) -> None:
    if groups:
        n = max(groups["groups"], 1)
        enroll, fire = groups["enroll"], groups["fire"]
        out["group_touch"] = _op(
            "one group's touch from a group plan, its enrollment included (one enrollment per touch: an upper bound)",
            f"groups: enroll + fire over {n} groups, per group",
            rcu=(enroll["billed_read"] + fire["billed_read"]) / n,
            wcu=(enroll["billed_write"] + fire["billed_write"]) / n,
            function="fire",
            duration_ms=(enroll["wall_s"] + fire["wall_s"]) / n * 1000,
        )
    if joins and joins["joins"]:
        out["member_join"] = _join_op(
            "a customer joining a group (change_external_chat add_member callback)",
            "group_joins, {n} joins: billed units mean, latency median",
            joins["joins"],
        )
        if joins["duplicates"]:
            out["member_join_duplicate"] = _join_op(
                "a join callback delivered again", "group_joins, {n} duplicates: billed units mean", joins["duplicates"]
            )


def _join_op(what: str, source: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One join callback from the bench's join rows: billed units' mean, latency's median (when the run kept it)."""
    return _op(
        what,
        source.format(n=len(rows)),
        rcu=stats.mean([j["billed_read"] for j in rows]),
        wcu=stats.mean([j["billed_write"] for j in rows]),
        function="api_handler",
        invocations=1,
        duration_ms=stats.median([j["latency_s"] * 1000 for j in rows]) if "latency_s" in rows[0] else None,
        api_requests=1,
    )


def _events(events: dict[str, Any] | None, out: dict[str, Any]) -> None:
    if not events:
        return
    applied = events["applied"]
    out["business_event"] = _op(
        "a business event from the tenant's systems (measured: a signed trial order, POST /t/{tenant}/events)",
        f"events, {applied['n']} trial orders: billed units mean, latency p50",
        rcu=applied["billed_read"],
        wcu=applied["billed_write"],
        function="api_handler",
        invocations=1,
        duration_ms=applied["p50_ms"],
        api_requests=1,
    )


def _reads(points: dict[str, Any] | None, metrics: dict[str, Any] | None, out: dict[str, Any]) -> None:
    if metrics:
        largest = max(metrics, key=int)
        m = metrics[largest]
        out["dashboard_read"] = _op(
            "a dashboard read (the funnel over 7 days; the same units at any tenant size)",
            f"metrics read at {int(largest):,} customers: billed units, latency p50",
            rcu=m["billed_read"],
            wcu=0,
            function="api_handler",
            invocations=1,
            duration_ms=m["p50_ms"],
            api_requests=1,
        )
    if points:
        largest = max(points, key=int)
        read = points[largest]["reads"].get("20")
        if read:
            out["api_read"] = _op(
                "an API read (measured: a group leaderboard, limit 20, token check included)",
                f"points: leaderboard read at {int(largest):,} members",
                rcu=read["billed_read"],
                wcu=read["billed_write"],
                function="api_handler",
                invocations=1,
                duration_ms=read["seconds"] * 1000 if "seconds" in read else None,
                api_requests=1,
            )


def figures(digest: dict[str, Any]) -> dict[str, Any]:
    """The cost model's figures from a run's JSON digest (report.as_jsonable); parts the run skipped are absent."""
    ops: dict[str, Any] = {}
    _callbacks(digest.get("scenarios") or {}, ops)
    if digest.get("sop"):
        _sop(digest["sop"], digest.get("fanout"), ops)
    _groups(digest.get("groups"), digest.get("group_joins"), ops)
    _reads(digest.get("points"), digest.get("metrics"), ops)
    _events(digest.get("events"), ops)
    imports = digest.get("import_seconds")
    sop = digest.get("sop") or {}
    return {
        "generated_by": digest.get("command", ""),
        "date": digest.get("date", ""),
        "operations": ops,
        "cold_import_ms": round(stats.median(imports) * 1000, 1) if imports else None,
        "item_bytes": sop.get("item_bytes", {}),
        "unmeasured": {k: v for k, v in UNMEASURED.items() if k not in ops},
    }


def _dump(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write(digest: dict[str, Any], path: Path = FIGURES_PATH, digest_path: Path = DIGEST_PATH) -> Path:
    """The figures, and beside them the digest they come from (so a test can re-derive them, whichever run it was)."""
    _dump(digest, digest_path)
    _dump(figures(digest), path)
    return path
