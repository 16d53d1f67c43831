"""The fan-out part of the bench (issue 8 §7), offline: its targets pass and fail on the issue's limits, and it is
rendered into docs/performance.md, the summary and the JSON digest. (test_bench.py holds the rest of the bench.)"""

from __future__ import annotations

from bench.__main__ import parse_args
from bench.fanout import LARGE, SIZES, fanout_sizes
from bench.fanout_report import FLAT_RATIO, LAST_TASK_LIMIT_S, fanout_targets
from bench.fanout_results import FanoutResults, FanoutRun
from bench.performance_doc import render_markdown
from bench.report import any_failed, as_jsonable, summary_lines, targets
from tests.unit.test_bench import _report


def _run(touches: int, staff: int, *, last: float, shard_s: float, bound: int = 500) -> FanoutRun:
    n = -(-touches // bound)
    sizes = [bound] * (touches // bound) + ([touches % bound] if touches % bound else [])
    return FanoutRun(
        touches=touches,
        staff=staff,
        coordinator_s=0.4,
        last_task_s=last,
        shard_sizes=sizes,
        shard_s=[shard_s * 0.9] * (n - 1) + [shard_s],
        sent=touches,
        tasks=staff,
        add_msg_template=staff,
    )


def _fanout(*, last: float = 21.5, big_shard_s: float = 4.2, large: bool = True) -> FanoutResults:
    runs = [_run(1_000, 20, last=2.5, shard_s=1.9), _run(10_000, 20, last=last, shard_s=4.0)]
    if large:
        runs.append(_run(100_000, 200, last=180.0, shard_s=big_shard_s))
    return FanoutResults(bound=500, workers=8, writers=8, runs=runs, large=large)


def test_fanout_targets_pass_and_fail_on_the_issue_limits() -> None:
    good = fanout_targets(_fanout(), "cmd")
    assert [t[3] for t in good] == [True, True, True]
    assert good[0][1] == f"<= {LAST_TASK_LIMIT_S:g} s" and good[0][2] == "21.5 s (20 shards)"
    assert "100,000 touches over 200 staff vs 10,000 over 20" in good[1][0] and good[1][2].startswith("1.05x")
    slow = fanout_targets(_fanout(last=41.0, big_shard_s=4.0 * FLAT_RATIO + 0.1), "cmd")
    assert [t[3] for t in slow[:2]] == [False, False]
    over = _fanout()
    over.runs[1].shard_sizes[0] = 501  # one invocation over its bound
    assert fanout_targets(over, "cmd")[2][3] is False
    lost = _fanout()
    lost.runs[0].sent = 999  # a touch never sent
    assert fanout_targets(lost, "cmd")[2][3] is False


def test_without_large_flatness_compares_the_smallest_and_largest_bucket() -> None:
    [_, flat, _] = fanout_targets(_fanout(large=False), "cmd")
    assert "10,000 touches over 20 staff vs 1,000 over 20" in flat[0]
    quick = FanoutResults(500, 8, 8, runs=[_run(1_000, 20, last=2.0, shard_s=1.0)])
    [only] = fanout_targets(quick, "c")  # a quick run: no 10,000 bucket, nothing to compare; only the invariants
    assert only[0].startswith("Fan-out: no invocation") and only[3]


def test_fanout_section_of_the_markdown_the_summary_and_the_json() -> None:
    report = _report(new_write=4, dup_read=1, dup_wecom=0, import_s=0.2)
    report.fanout = _fanout()
    assert not any_failed(report)
    assert any(t.name.startswith("Fan-out: 10,000 touches") for t in targets(report))
    text = render_markdown(report)
    assert "## A fire that fans out" in text and "### What it means on AWS" in text
    assert "| 10,000 | 20 | 20 | 500 | 0.4 | 3.6 | 4 | 21.5 | 10,000 | 20 | 20 |" in text
    assert "Lambda concurrency" in text and "`SIYU_FIRE_SHARD_SIZE`" in text
    lines = summary_lines(report)
    assert any(line.startswith("SOP fan-out x100000 over 200 staff: 200 shards (largest 500)") for line in lines)
    digest = as_jsonable(report)["fanout"]
    assert digest["bound"] == 500 and [r["shards"] for r in digest["runs"]] == [2, 20, 200]
    report.fanout = _fanout(last=45.0)
    assert any_failed(report)


def test_large_adds_the_100000_touch_bucket() -> None:
    assert fanout_sizes(large=False) == list(SIZES) == [(1_000, 20), (10_000, 20)]
    assert fanout_sizes(large=True)[-1] == LARGE == (100_000, 200)
    args = parse_args(["--fanout-only", "--large"])
    assert args.fanout_only and args.large and args.output is None  # a partial run writes only where told
