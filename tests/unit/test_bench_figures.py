"""bench/figures.json, the cost model's input, is the bench's own digest reduced by bench/figures.py.

A full `make bench` writes both bench/digest.json (report.as_jsonable of the run) and bench/figures.json; the test
re-derives the second from the first. The files first committed were written by the writer from DIGEST below: the full
run of 2026-12-05 05:46 UTC (docs/performance.md) in the digest's shape, only the keys the writer reads, until the lead
re-runs the bench after the merge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import figures
from bench.figures import DIGEST_PATH, FIGURES_PATH


def capacity(read: float, write: float) -> dict[str, float]:
    return {"read": read, "write": write, "billed_read": read, "billed_write": write}


def join(read: float, write: float, ms: float) -> dict[str, Any]:
    return {"billed_read": read, "billed_write": write, "latency_s": ms / 1000}


# docs/performance.md, 2026-12-05 05:46 UTC, `.venv/bin/python -m bench` (git d127c57).
DIGEST: dict[str, Any] = {
    "date": "2026-12-05 05:46 UTC",
    "command": ".venv/bin/python -m bench",
    "scenarios": {
        "new": {"billed_read": {"mean": 3.5}, "billed_write": {"mean": 7}, "latency_ms": {"p50": 24.8}},
        "duplicate": {"billed_read": {"mean": 1}, "billed_write": {"mean": 0}, "latency_ms": {"p50": 3}},
    },
    "import_seconds": [
        *(0.178, 0.187, 0.215, 0.224, 0.201, 0.201, 0.220, 0.199),
        *(0.271, 0.275, 0.174, 0.213, 0.200, 0.277, 0.174),
    ],
    "sop": {
        "n": 10000,
        "buckets": ["s1 @ 2026-12-06 12:00 UTC"],
        "enroll": {
            "n": 10000,
            "wall_s": 143.1,
            "per_unit": capacity(1.0004, 6.0003),
            "scheduler_ops": {"CreateSchedule": 1},
            "latency_p50_ms": 13.57,
        },
        "fire": {"n": 10000, "wall_s": 45.0, "per_unit": capacity(1.6149, 2.0292), "scheduler_ops": {}},
        "item_bytes": {
            "customer profile": 952,
            "enrollment": 343,
            "touch": 579,
            "staff task head (median)": 900,
            "staff task recipients (median)": 8579,
        },
    },
    "fanout": {
        "bound": 500,
        "runs": [
            {"touches": 1000, "shards": 2, "coordinator_s": 0.06, "largest_shard": 500, "largest_shard_s": 3.06},
            {"touches": 10000, "shards": 20, "coordinator_s": 0.78, "largest_shard": 500, "largest_shard_s": 2.98},
        ],
    },
    "groups": {
        "groups": 100,
        "enroll": {"billed_read": 50.5, "billed_write": 303, "wall_s": 0.5},
        "fire": {"billed_read": 165, "billed_write": 242, "wall_s": 0.47},
    },
    # 199 joins of 15 W and the one that rotated the code (17 W), every join 12 R; the doc gives the latency's
    # median over all 200 (35.3 ms), so each sample here carries it.
    "group_joins": {
        "joins": [join(12, 15, 35.3)] * 199 + [join(12, 17, 35.3)],
        "duplicates": [join(1, 0, 1.8)] * 200,
    },
    "points": {
        "50": {"reads": {"20": capacity(1.5, 0) | {"seconds": 0.0043}}},
        "5000": {"reads": {"20": capacity(1.5, 0) | {"seconds": 0.0042}}},
    },
    "metrics": {"1000": {"billed_read": 200, "p50_ms": 85.6}, "100000": {"billed_read": 200, "p50_ms": 91.8}},
    # Not in that run: `.venv/bin/python -m bench --events-only --output /tmp/evbench200.md --json`, 2026-12-05
    # 07:22 UTC, 200 signed trial orders and their duplicates (the part was added for the cost model).
    "events": {
        "applied": {"n": 200, "billed_read": 4.0, "billed_write": 12.0, "p50_ms": 58.882},
        "duplicate": {"n": 200, "billed_read": 1.0, "billed_write": 0.0, "p50_ms": 3.604},
    },
}


def test_the_committed_figures_are_the_writer_on_the_committed_digest() -> None:
    committed = json.loads(FIGURES_PATH.read_text(encoding="utf-8"))
    assert committed == figures.figures(json.loads(DIGEST_PATH.read_text(encoding="utf-8")))
    assert committed["operations"]  # a digest of a full run: every part the cost model bills


def test_write_puts_the_digest_beside_the_figures(tmp_path: Path) -> None:
    out = figures.write(DIGEST, tmp_path / "figures.json", tmp_path / "digest.json")
    assert json.loads((tmp_path / "digest.json").read_text()) == DIGEST
    assert json.loads(out.read_text()) == figures.figures(DIGEST)


def test_per_operation_figures_match_the_performance_doc() -> None:
    ops = figures.figures(DIGEST)["operations"]
    assert (ops["new_customer"]["billed_wcu"], ops["new_customer"]["billed_rcu"]) == (7, 3.5)
    assert ops["new_customer"]["api_requests"] == 1
    assert ops["enrollment"]["billed_wcu"] == pytest.approx(6, abs=0.001)
    assert ops["touch"]["billed_wcu"] == pytest.approx(2.029, abs=0.001)
    assert ops["touch"]["invocations"] == 1 / 500  # one fire shard per 500 touches
    assert ops["touch"]["duration_ms"] == pytest.approx(4.5)  # 45 s for 10,000 touches
    assert ops["bucket"]["scheduler_calls"] == 1
    assert ops["group_touch"]["billed_wcu"] == pytest.approx(5.45)
    assert ops["member_join"]["billed_wcu"] == pytest.approx(15.01)
    assert ops["member_join"]["duration_ms"] == pytest.approx(35.3)
    assert ops["bucket"]["duration_ms"] == pytest.approx(780)  # the coordinator of 10,000 touches
    assert ops["dashboard_read"]["billed_rcu"] == 200
    assert ops["api_read"]["duration_ms"] == pytest.approx(4.2)
    assert figures.figures(DIGEST)["cold_import_ms"] == 201
    assert (ops["business_event"]["billed_wcu"], ops["business_event"]["billed_rcu"]) == (12, 4)


def test_a_partial_run_leaves_out_what_it_did_not_measure() -> None:
    only_callbacks = {"scenarios": DIGEST["scenarios"], "import_seconds": None}
    out = figures.figures(only_callbacks)
    assert set(out["operations"]) == {"new_customer", "duplicate_callback"}
    assert out["cold_import_ms"] is None
    assert "business_event" in out["unmeasured"]
    assert "business_event" not in figures.figures(DIGEST)["unmeasured"]  # measured: no longer listed
