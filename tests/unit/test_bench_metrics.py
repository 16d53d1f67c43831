"""The metrics read bench, offline: its facts fold to what the metrics writer's store call leaves (so the larger
tenant's counters are what recording its facts would leave), and the report's target, section and digest."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bench.capacity import Capacity
from bench.metrics import DAYS, MetricsRead, MetricsResults, MetricsRun
from bench.metrics_facts import Config, by_day, count, customer_id, facts_of, funnel_of
from bench.metrics_report import metrics_jsonable, metrics_summary_lines, metrics_targets, render_metrics
from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics.facts import fold
from tests.fakes.store import FakeStore

CFG = Config(
    ZoneInfo("Asia/Shanghai"),
    DAYS,
    tuple(f"ch_{n}" for n in range(10)),
    tuple(f"t{n:02d}" for n in range(20)),
    (("pl_a", ("pl_a.1.s1", "pl_a.1.s2", "pl_a.1.s3")), ("pl_b", ("pl_b.1.s1", "pl_b.1.s2", "pl_b.1.s3"))),
)


def test_the_folded_facts_are_what_the_writer_leaves() -> None:
    store = FakeStore()
    for fact in facts_of(range(700), CFG):
        assert store.record_metric_fact("t1", fact)
    folded = fold(count(facts_of(range(700), CFG)))
    for dimension in f.DIMENSIONS:
        ids = sorted({i for d, i, _ in folded if d == dimension})
        want = {(i, day): _nonzero(c) for (d, i, day), c in folded.items() if d == dimension}
        assert store.metric_counters("t1", dimension, ids, DAYS) == want, dimension
    # The writer skips a zero ADD (a free trial's revenue) where the fold (and so the rebuild) keeps a 0: same figures.
    logged = fold(fact for day in DAYS for fact in store.metric_fact_log("t1", day))
    assert logged == folded  # the log holds the counted facts: a rebuild gives the same counters
    assert not any(store.record_metric_fact("t1", fact) for fact in facts_of(range(3), CFG))  # replays count nothing


def test_the_facts_spread_over_every_channel_staff_day_and_step() -> None:
    folded = fold(count(facts_of(range(1_000), CFG)))
    assert funnel_of(folded) == {"adds": 1_000, "trial": 200, "full": 50}
    keys = {(d, i, day) for d, i, day in folded}
    for day in DAYS:
        assert all((f.CHANNEL, c, day) in keys for c in CFG.channels)
        assert all((f.STAFF, s, day) in keys for s in CFG.staff)
        assert all((f.STEP, s, day) in keys for _, steps in CFG.plans for s in steps)
    plans = [_sum(folded, f.PLAN, plan_id) for plan_id, _ in CFG.plans]
    assert sum(p[f.ENROLLED] + p[f.HOLDOUT_ENROLLED] for p in plans) == 600  # 60% enrolled
    assert sum(p[f.HOLDOUT_ENROLLED] for p in plans) == 60  # a tenth of them held out
    assert sum(len(c) for c in by_day(folded).values()) == len(folded)
    assert customer_id(7) == "cmb0000007"


def _nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in counters.items() if n}


def _sum(folded: dict[tuple[str, str, str], dict[str, int]], dimension: str, ident: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for (d, i, _), counters in folded.items():
        if (d, i) == (dimension, ident):
            for name, n in counters.items():
                out[name] = out.get(name, 0) + n
    return out


def _run(customers: int, units: float, *, unmetered: int = 0) -> MetricsRun:
    read = MetricsRead(
        Capacity(read=units, billed_read=units),
        {"BatchGetItem": 9, "Query": 28},
        {"BatchGetItem `MC/D`": 8, "Query `table:T`": 5},
        0.02,
        {"BatchGetItem `MC/D`": units - 3, "Query `table:T`": 3},
        378,
        customers // 500 + 300,
    )
    run = MetricsRun(customers, 1_000, facts_recorded=2_850, reads=[read] * 10, unmetered=unmetered)
    run.funnel = {"exposures": customers * 12, "adds": customers}
    if customers > 1_000:
        run.facts_folded, run.counter_items = 280_000, 280
    return run


def test_the_target_wants_the_same_units_at_both_sizes() -> None:
    same = MetricsResults(runs=[_run(1_000, 203), _run(100_000, 203)])
    [units, escaped] = metrics_targets(same, "cmd")
    assert units[0] == "Metrics read (funnel, 7 days): billed read units at 100,000 vs 1,000 customers"
    assert units[1:4] == ("= at 1,000 (203)", "203", True) and escaped[3]
    worse = MetricsResults(runs=[_run(1_000, 203), _run(100_000, 203.5)])
    assert not metrics_targets(worse, "cmd")[0][3]
    assert not metrics_targets(MetricsResults(runs=[_run(1_000, 1), _run(100_000, 1, unmetered=1)]), "cmd")[1][3]
    assert metrics_targets(MetricsResults(runs=[_run(1_000, 203)]), "cmd") == []


def test_the_section_shows_both_sizes_and_where_the_units_go() -> None:
    text = "\n".join(render_metrics(MetricsResults(runs=[_run(1_000, 203), _run(100_000, 203)]), "cmd"))
    small = "| 1,000 | 2,850 recorded | exposures 12,000, adds 1,000 | 203 | 378 / 302 | BatchGetItem 9, Query 28 |"
    assert small in text
    large = "| 100,000 | 2,850 recorded; all 280,000 folded into 280 day counters | exposures 1,200,000, adds 100,000 |"
    assert large in text
    assert "| BatchGetItem `MC/D` | 8 | 200 | 8 | 200 |" in text
    assert text.startswith("## Metrics read: the funnel at 1,000 and 100,000 customers (issue 11 §3)\n")
    assert "`store.replace_metric_counters`, the rebuild's own write" in text and "entity × a day" in text
    lines = metrics_summary_lines(MetricsResults(runs=[_run(1_000, 203), _run(100_000, 203)]))
    assert lines[1].startswith("metrics funnel read, 100,000 customers: R 203;")
    digest = metrics_jsonable(MetricsResults(runs=[_run(1_000, 203)]))
    assert digest["1000"]["billed_read"] == 203 and digest["1000"]["ops"]["Query"] == 28
    assert digest["1000"]["batch_keys"] == 378 and digest["1000"]["units"]["Query `table:T`"] == 3


def test_metrics_only_is_a_partial_run() -> None:
    from bench.__main__ import parse_args

    assert parse_args(["--metrics-only"]).output is None and parse_args(["--metrics-only"]).metrics_only
    with pytest.raises(SystemExit):
        parse_args(["--metrics-only", "--points-only"])


def test_the_report_judges_and_renders_the_metrics_part() -> None:
    from bench.capacity import Calibration
    from bench.performance_doc import render_markdown
    from bench.report import Report, any_failed, as_jsonable, summary_lines

    def report(large_units: float) -> Report:
        metrics = MetricsResults(runs=[_run(1_000, 203), _run(100_000, large_units)])
        return Report("d", "cmd", "py", 1, 0, False, {}, Calibration(), [], None, metrics=metrics)

    good = report(203)
    assert not any_failed(good) and as_jsonable(good)["metrics"]["100000"]["billed_read"] == 203
    assert "PASS  Metrics read (funnel, 7 days): billed read units at 100,000 vs 1,000 customers: 203" in "\n".join(
        summary_lines(good)
    )
    text = render_markdown(good)
    assert (
        "| Metrics read (funnel, 7 days): billed read units at 100,000 vs 1,000 customers | = at 1,000 (203) | 203 |"
        in (text)
    )
    assert "## Metrics read: the funnel at 1,000 and 100,000 customers" in text
    assert any_failed(report(210))
