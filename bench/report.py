"""Targets, the short summary and the JSON digest of a run: pure functions of the measured samples, so they are
unit-testable offline. docs/performance.md itself is bench/performance_doc.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.capacity import Calibration
from bench.common import counts, fmt
from bench.events import EventsResults, events_jsonable, events_summary_lines
from bench.fanout_report import fanout_jsonable, fanout_summary_lines, fanout_targets
from bench.fanout_results import FanoutResults
from bench.group_joins import JoinResults
from bench.group_joins_report import group_joins_jsonable, group_joins_summary_lines
from bench.groups import GroupResults, render_groups
from bench.harness import Sample, Scenario
from bench.imports import IMPORT_SNIPPET, IMPORTTIME_SNIPPET, ImportTimes
from bench.metrics import MetricsResults
from bench.metrics_report import metrics_jsonable, metrics_summary_lines, metrics_targets
from bench.points import PointsResults
from bench.points_report import points_jsonable, points_summary_lines, points_targets
from bench.sop_report import sop_jsonable, sop_summary_lines, sop_targets
from bench.sop_results import SopResults

# Issue targets.
NEW_WRITE_LIMIT = 4.0  # issue 8 §8: a new customer costs at most 4 billed write units
NEW_READ_LIMIT = 4.0
DUPLICATE_UNITS_LIMIT = 1.0  # issue 8 §8: a duplicate delivery costs at most 1 billed unit
DUPLICATE_WECOM_LIMIT = 0
IMPORT_LIMIT_MS = 250.0  # issue 8 §8: cold `import app`, median


@dataclass(frozen=True)
class Summary:
    """One scenario reduced to the figures the doc shows (units per delivery, latency in ms)."""

    n: int
    outcomes: dict[str, int]
    write: dict[str, float]  # reported: median/mean/max
    billed_write: dict[str, float]
    read: dict[str, float]
    billed_read: dict[str, float]
    billed_total: dict[str, float]
    ddb_ops: dict[str, float]  # mean calls per delivery, by operation
    ddb_units: dict[str, float]  # mean billed units per delivery, by operation
    ddb_errors: dict[str, int]
    wecom: dict[str, float]  # mean calls per delivery, by API
    wecom_total: int  # all WeCom calls over the n deliveries
    gettoken: int
    latency_ms: dict[str, float]  # p50/p99/mean/min/max
    ddb_ms_median: float
    batch_keys_mean: float
    batch_found_mean: float
    unmetered_calls: int


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": stats.median(values), "mean": stats.mean(values), "max": max(values)}


def _mean_counts(per_sample: Sequence[dict[str, int]] | Sequence[dict[str, float]], n: int) -> dict[str, float]:
    total: dict[str, float] = {}
    for c in per_sample:
        for name, k in c.items():
            total[name] = total.get(name, 0) + k
    return {name: total[name] / n for name in sorted(total)}


def summarize(scenario: Scenario) -> Summary:
    samples: list[Sample] = scenario.samples
    if not samples:
        raise ValueError(f"scenario {scenario.key} has no samples")
    n = len(samples)
    latencies = [s.latency_s * 1000 for s in samples]
    outcomes: dict[str, int] = {}
    errors: dict[str, int] = {}
    for s in samples:
        outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
        for name, k in s.ddb_errors.items():
            errors[name] = errors.get(name, 0) + k
    wecom_total = sum(sum(s.wecom.values()) for s in samples)
    return Summary(
        n=n,
        outcomes=outcomes,
        write=_spread([s.capacity.write for s in samples]),
        billed_write=_spread([s.capacity.billed_write for s in samples]),
        read=_spread([s.capacity.read for s in samples]),
        billed_read=_spread([s.capacity.billed_read for s in samples]),
        billed_total=_spread([s.capacity.billed_total for s in samples]),
        ddb_ops=_mean_counts([s.ddb_ops for s in samples], n),
        ddb_units=_mean_counts([s.ddb_units for s in samples], n),
        ddb_errors=errors,
        wecom=_mean_counts([s.wecom for s in samples], n),
        wecom_total=wecom_total,
        gettoken=sum(s.wecom.get("gettoken", 0) for s in samples),
        latency_ms={
            "p50": stats.percentile(latencies, 50),
            "p99": stats.percentile(latencies, 99),
            "mean": stats.mean(latencies),
            "min": min(latencies),
            "max": max(latencies),
        },
        ddb_ms_median=stats.median([s.ddb_seconds * 1000 for s in samples]),
        batch_keys_mean=stats.mean([float(s.batch_keys) for s in samples]),
        batch_found_mean=stats.mean([float(s.batch_found) for s in samples]),
        unmetered_calls=scenario.unmetered_calls,
    )


@dataclass(frozen=True)
class Target:
    name: str
    limit: str
    measured: str
    passed: bool
    command: str


@dataclass
class Report:
    """Everything one bench run produced, plus how it was produced."""

    date: str
    command: str
    python_display: str
    n: int
    warmup: int
    quick: bool
    machine: dict[str, str]
    calibration: Calibration
    scenarios: list[Scenario]
    imports: ImportTimes | None
    sandbox_roundtrip_ms: dict[str, float] = field(default_factory=dict)
    nodelay: bool = True
    notes: list[str] = field(default_factory=list)
    sop: SopResults | None = None
    fanout: FanoutResults | None = None  # issue 8 §7: buckets fired through the sharded path
    points: PointsResults | None = None  # issue 10 §9: leaderboard reads at 50 and 5,000 members
    groups: GroupResults | None = None  # issue 10 §9: one group-plan bucket over 100 groups
    group_joins: JoinResults | None = None  # issue 10 §9: units per member-join event
    metrics: MetricsResults | None = None  # issue 11 §3: a funnel read at 1,000 and 100,000 customers
    events: EventsResults | None = None  # issue 12 §5: a signed business event and its duplicate (the cost model)

    def scenario(self, key: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.key == key), None)

    @property
    def import_command(self) -> str:
        return f'{self.python_display} -c "{IMPORT_SNIPPET}"'

    @property
    def importtime_command(self) -> str:
        return f"{self.python_display} -X importtime -c '{IMPORTTIME_SNIPPET}'"


def targets(report: Report) -> list[Target]:
    """The issue's targets, judged on the production configuration (tenant cache on). Units are billed figures
    (what AWS charges), averaged per delivery: that is the cost per customer on the bill."""
    out: list[Target] = []
    cmd = report.command
    new, dup = report.scenario("new"), report.scenario("duplicate")
    if new is not None and new.samples:
        s = summarize(new)
        out.append(
            Target(
                "New customer: DynamoDB write units (billed, mean per customer)",
                f"<= {fmt(NEW_WRITE_LIMIT)}",
                f"{fmt(s.billed_write['mean'])} (median {fmt(s.billed_write['median'])}, "
                f"max {fmt(s.billed_write['max'])})",
                s.billed_write["mean"] <= NEW_WRITE_LIMIT,
                cmd,
            )
        )
        out.append(
            Target(
                "New customer: DynamoDB read units (billed, mean per customer)",
                f"<= {fmt(NEW_READ_LIMIT)}",
                f"{fmt(s.billed_read['mean'])} (median {fmt(s.billed_read['median'])}, "
                f"max {fmt(s.billed_read['max'])})",
                s.billed_read["mean"] <= NEW_READ_LIMIT,
                cmd,
            )
        )
    if dup is not None and dup.samples:
        s = summarize(dup)
        out.append(
            Target(
                "Duplicate delivery: DynamoDB units, read + write (billed, mean)",
                f"<= {fmt(DUPLICATE_UNITS_LIMIT)}",
                f"{fmt(s.billed_total['mean'])} (median {fmt(s.billed_total['median'])}, "
                f"max {fmt(s.billed_total['max'])})",
                s.billed_total["mean"] <= DUPLICATE_UNITS_LIMIT,
                cmd,
            )
        )
        out.append(
            Target(
                f"Duplicate delivery: WeCom calls (total over {s.n} deliveries)",
                f"= {DUPLICATE_WECOM_LIMIT}",
                str(s.wecom_total),
                s.wecom_total <= DUPLICATE_WECOM_LIMIT,
                cmd,
            )
        )
    if report.imports is not None:
        median_ms = report.imports.median * 1000
        out.append(
            Target(
                f"`import app`, cold (median of {len(report.imports.seconds)} fresh interpreters)",
                f"<= {fmt(IMPORT_LIMIT_MS, 0)} ms",
                f"{fmt(median_ms, 0)} ms",
                median_ms <= IMPORT_LIMIT_MS,
                report.import_command,
            )
        )
    if report.scenarios:
        unmetered = sum(s.unmetered_calls for s in report.scenarios)
        out.append(
            Target(
                "Bench integrity: DynamoDB calls that escaped the meter",
                "= 0",
                str(unmetered),
                unmetered == 0,
                cmd,
            )
        )
    if report.sop is not None:
        out += [Target(*t) for t in sop_targets(report.sop, cmd)]
    if report.fanout is not None:
        out += [Target(*t) for t in fanout_targets(report.fanout, cmd)]
    if report.points is not None:
        out += [Target(*t) for t in points_targets(report.points, cmd)]
    if report.metrics is not None:
        out += [Target(*t) for t in metrics_targets(report.metrics, cmd)]
    return out


def summary_lines(report: Report) -> list[str]:
    """The short stdout summary."""
    out = []
    for key in ("new", "duplicate", "new_nocache", "duplicate_nocache"):
        scenario = report.scenario(key)
        if scenario is None or not scenario.samples:
            continue
        s = summarize(scenario)
        out.append(
            f"{scenario.title:<38} billed W {fmt(s.billed_write['mean']):>4} R {fmt(s.billed_read['mean']):>4} "
            f"(reported W {fmt(s.write['mean'])} R {fmt(s.read['mean'])}); "
            f"ddb {counts(s.ddb_ops)}; wecom {sum(s.wecom.values()):g}/op; "
            f"p50 {fmt(s.latency_ms['p50'], 1)} ms p99 {fmt(s.latency_ms['p99'], 1)} ms"
        )
    if report.sop is not None:
        out += sop_summary_lines(report.sop)
    if report.fanout is not None:
        out += fanout_summary_lines(report.fanout)
    if report.points is not None:
        out += points_summary_lines(report.points)
    if report.events is not None:
        out += events_summary_lines(report.events)
    if report.groups is not None:
        out += [line for line in render_groups(report.groups, "")[-2:-1]]
    if report.group_joins is not None:
        out += group_joins_summary_lines(report.group_joins)
    if report.metrics is not None:
        out += metrics_summary_lines(report.metrics)
    if report.imports is not None:
        ms = [v * 1000 for v in report.imports.seconds]
        out.append(f"import app: median {fmt(stats.median(ms), 0)} ms (min {fmt(min(ms), 0)}, max {fmt(max(ms), 0)})")
    for t in targets(report):
        out.append(f"{'PASS' if t.passed else 'FAIL'}  {t.name}: {t.measured} (limit {t.limit})")
    return out


def any_failed(report: Report) -> bool:
    return not all(t.passed for t in targets(report))


def as_jsonable(report: Report) -> dict[str, Any]:
    """A machine-readable digest (printed with --json) for comparing runs without parsing markdown."""
    return {
        "date": report.date,
        "command": report.command,
        "n": report.n,
        "scenarios": {sc.key: summarize(sc).__dict__ for sc in report.scenarios if sc.samples},
        "import_seconds": report.imports.seconds if report.imports else None,
        "targets": [t.__dict__ for t in targets(report)],
        "sop": sop_jsonable(report.sop) if report.sop is not None else None,
        "fanout": fanout_jsonable(report.fanout) if report.fanout is not None else None,
        "points": points_jsonable(report.points) if report.points is not None else None,
        "groups": report.groups.jsonable() if report.groups is not None else None,
        "group_joins": group_joins_jsonable(report.group_joins) if report.group_joins is not None else None,
        "metrics": metrics_jsonable(report.metrics) if report.metrics is not None else None,
        "events": events_jsonable(report.events) if report.events is not None else None,
    }
