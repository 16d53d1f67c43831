"""The leaderboard bench's report, offline: hand-built results render, and the target judges the default limit
at both sizes (the small board has fewer rows than the large limit, so that one is not compared)."""

from __future__ import annotations

import pytest

from bench.capacity import Capacity
from bench.points import Measured, PointsResults, PointsRun
from bench.points_report import points_jsonable, points_summary_lines, points_targets, render_points


def _read(units: float) -> Measured:
    return Measured(Capacity(read=units + 1, billed_read=units + 1), {"GetItem": 1, "Query": 1}, 0.01, Capacity(
        read=units, billed_read=units))  # fmt: skip


def _results(large_read: float) -> PointsResults:
    small = PointsRun(50, reads={20: _read(0.5), 100: _read(1.5)})
    large = PointsRun(5000, reads={20: _read(large_read), 100: _read(2.5)})
    large.moved_checkin = Measured(Capacity(write=2, billed_write=2), {"TransactWriteItems": 1}, 0.02, tx_items=7,
                                   tx_billed=14)  # fmt: skip
    return PointsResults([small, large])


def test_the_target_compares_the_default_limit_at_both_sizes() -> None:
    [target] = points_targets(_results(0.5), "cmd")
    assert target[2:4] == ("1.5", True) and "limit 20" in target[0]  # the whole request: token check + Query
    [worse] = points_targets(_results(1.0), "cmd")
    assert worse[3] is False
    assert points_targets(PointsResults([PointsRun(50)]), "cmd") == []


def test_the_section_renders_every_row_and_the_per_item_write_units() -> None:
    text = "\n".join(render_points(_results(0.5), "cmd"))
    assert "| 5,000 | 100 | 100 | 2.5 | 3.5 |" in text and "| 50 | 100 | 50 | 1.5 | 2.5 |" in text
    assert "| 5,000 | next day (entry moved) | 7 | 2 | 14 |" in text
    assert points_summary_lines(_results(0.5))[1].endswith("W 14")
    assert points_jsonable(_results(0.5))["5000"]["moved_checkin"]["tx_billed"] == 14


def test_points_only_is_a_partial_run() -> None:
    from bench.__main__ import parse_args

    assert parse_args(["--points-only"]).output is None and parse_args(["--points-only"]).points_only
    with pytest.raises(SystemExit):
        parse_args(["--points-only", "--sop-only"])
