"""`python -m bench`: measure, print a short summary, rewrite docs/performance.md, exit 1 if a target fails.

Two parts: the WeCom callback hot path (and the cold import of app.py), and the SOP engine (enroll N customers, fire
one bucket of N touches, then one bulk enrollment job over the same N customers; then buckets of 1,000 and 10,000
touches — and with ``--large`` 100,000 — fired through the fan-out), a group leaderboard read at 50 and 5,000
members, a group-plan bucket over 100 groups and N member joins, and a metrics funnel read at 1,000 and 100,000
customers, and a signed business event with its duplicate. ``--callback-only`` / ``--sop-only`` / ``--fanout-only``
/ ``--points-only`` / ``--groups-only`` / ``--metrics-only`` / ``--events-only`` run one; a partial run writes the
markdown only to an explicit ``--output`` (docs/performance.md holds every part).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import figures, imports, machine, performance_doc, report
from bench.common import STAFF_COUNT, BenchError
from bench.events import run_events
from bench.fanout import fanout_sizes, run_fanout
from bench.group_joins import run_group_joins
from bench.groups import run_groups
from bench.harness import Stack
from bench.metrics import QUICK_SIZES, SIZES, run_metrics
from bench.points import run_points
from bench.scenarios import run_scenarios
from bench.sop import run_sop
from bench.sop_results import SopResults

DEFAULT_OUTPUT = machine.REPO_ROOT / "docs" / "performance.md"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", "--iterations", type=int, default=None, help="measured deliveries per scenario (200)")
    parser.add_argument("--quick", action="store_true", help="N=20, fewer import runs: a smoke test of the bench")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="markdown to (over)write (default docs/performance.md; a partial run writes only to an explicit path)",
    )
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--callback-only", action="store_true", help="only the callback scenarios and the cold import")
    part.add_argument("--sop-only", action="store_true", help="only the SOP enrollment, fire and bulk job measurements")
    part.add_argument("--fanout-only", action="store_true", help="only the fan-out fires (issue 8 §7)")
    part.add_argument(
        "--points-only", action="store_true", help="only the leaderboard reads at 50 and 5,000 members (issue 10 §9)"
    )
    part.add_argument(
        "--groups-only",
        action="store_true",
        help="only the group-plan bucket over 100 groups and the member joins (N callbacks, issue 10 §9)",
    )
    part.add_argument(
        "--metrics-only",
        action="store_true",
        help="only the metrics funnel read at 1,000 and 100,000 customers (--quick: 100 and 1,000; issue 11 §3)",
    )
    part.add_argument(
        "--events-only",
        action="store_true",
        help="only the business events: N signed trial orders and their duplicates (-n, 200; issue 12 §5)",
    )
    parser.add_argument(
        "--large", action="store_true", help="also fire a bucket of 100,000 touches over 200 staff through the fan-out"
    )
    parser.add_argument(
        "--sop-customers",
        type=int,
        default=None,
        help=f"customers enrolled, touches fired and bulk-enrolled in the SOP part (10000; --quick: 200), over "
        f"{STAFF_COUNT} staff",
    )
    parser.add_argument(
        "--sandbox-as-shipped",
        action="store_true",
        help="leave Nagle on in the sandbox (each keep-alive WeCom call then waits ~40 ms for a delayed ACK)",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.iterations is None:
        args.iterations = 20 if args.quick else 200
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.sop_customers is None:
        args.sop_customers = 200 if args.quick else 10_000
    if args.sop_customers < 1:
        parser.error("--sop-customers must be at least 1")
    if args.output is None and not (
        args.callback_only
        or args.sop_only
        or args.fanout_only
        or args.points_only
        or args.groups_only
        or args.metrics_only
        or args.events_only
    ):
        args.output = DEFAULT_OUTPUT
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    python = machine.python_display()
    command = " ".join([python, "-m", "bench", *argv])
    warmup = 3 if args.quick else 20
    import_runs, importtime_runs = (5, 1) if args.quick else (15, 3)

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    started = datetime.now(UTC)
    only = {
        "callbacks": args.callback_only,
        "sop": args.sop_only,
        "fanout": args.fanout_only,
        "points": args.points_only,
        "groups": args.groups_only,
        "metrics": args.metrics_only,
        "events": args.events_only,
    }

    def part(name: str, *also: str) -> bool:
        """A part runs in a full run, or when it (or a part that includes it, ``also``) was asked for alone."""
        return not any(only.values()) or any(only[n] for n in (name, *also))

    callbacks = part("callbacks")
    sop_part = part("sop")
    fanout_part = part("fanout", "sop")  # --sop-only includes the fan-out, as it always did
    points_part = part("points")
    groups_part = part("groups")
    metrics_part = part("metrics")
    events_part = part("events")
    sizes = [(1_000, 20)] if args.quick else fanout_sizes(large=args.large)
    import_times = None
    if callbacks:
        progress(f"cold import of app.py: {import_runs} fresh interpreters + {importtime_runs} -X importtime runs")
        import_times = imports.measure(
            sys.executable, machine.REPO_ROOT, runs=import_runs, importtime_runs=importtime_runs
        )
    os.chdir(machine.REPO_ROOT)  # app.py and .chalice/ are found from the repository root
    sys.path.insert(0, str(machine.REPO_ROOT))
    progress("starting DynamoDB Local, the WeCom sandbox and the app")
    t0 = time.perf_counter()
    try:
        with Stack(nodelay=not args.sandbox_as_shipped) as stack:
            facts = machine.facts(stack.install_dir)
            scenarios = run_scenarios(stack, args.iterations, warmup, progress) if callbacks else []
            sop: SopResults | None = run_sop(stack, args.sop_customers, progress) if sop_part else None
            fanout = run_fanout(stack, sizes, progress, large=args.large) if fanout_part else None
            points = run_points(stack, progress) if points_part else None
            groups = run_groups(stack, progress) if groups_part else None
            joins = run_group_joins(stack, progress, args.iterations) if groups_part else None
            metrics_sizes = QUICK_SIZES if args.quick else SIZES
            metrics = run_metrics(stack, progress, metrics_sizes) if metrics_part else None
            events = run_events(stack, progress, args.iterations) if events_part else None
            calibration = stack.calibration
            roundtrip = dict(stack.roundtrip_ms)
    except BenchError as exc:
        print(f"bench: FAILED to measure: {exc}", file=sys.stderr)
        return 2
    progress(f"measured in {time.perf_counter() - t0:.0f} s")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load:
        facts["load average at end (1/5/15 min)"] = " / ".join(f"{v:.2f}" for v in load)
    result = report.Report(
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        python_display=python,
        n=args.iterations,
        warmup=warmup,
        quick=args.quick,
        machine=facts,
        calibration=calibration,
        scenarios=scenarios,
        imports=import_times,
        sandbox_roundtrip_ms=roundtrip,
        nodelay=not args.sandbox_as_shipped,
        sop=sop,
        fanout=fanout,
        points=points,
        groups=groups,
        group_joins=joins,
        metrics=metrics,
        events=events,
    )
    for line in report.summary_lines(result):
        print(line)
    if args.json:
        print(json.dumps(report.as_jsonable(result), ensure_ascii=False, indent=2))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(performance_doc.render_markdown(result), encoding="utf-8")
        print(f"wrote {args.output}")
    if args.output == DEFAULT_OUTPUT and not args.quick:  # a full run: the cost model's figures (make cost)
        print(f"wrote {figures.write(report.as_jsonable(result)).relative_to(machine.REPO_ROOT)}")
    else:
        print(
            f"not writing {DEFAULT_OUTPUT.relative_to(machine.REPO_ROOT)}: a partial run would drop the other part "
            "(pass --output to write one)"
        )
    return 1 if report.any_failed(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
