"""The business-events bench part's report (the run itself needs DynamoDB Local: `python -m bench --events-only`)."""

from __future__ import annotations

from bench.capacity import Capacity
from bench.events import EventSample, EventsResults, events_jsonable, render_events


def sample(write: float, read: float, ms: float, ops: dict[str, int], status: str) -> EventSample:
    return EventSample(Capacity(read, write, read, write), ops, ms / 1000, status)


def test_the_report_gives_means_and_the_median_latency() -> None:
    results = EventsResults(
        2,
        applied=[
            sample(12, 4, 50, {"PutItem": 5, "Query": 3}, "applied"),
            sample(14, 4, 70, {"PutItem": 6, "Query": 3}, "applied"),
        ],
        duplicates=[sample(0, 1, 3, {"BatchGetItem": 1}, "duplicate")] * 2,
    )
    j = events_jsonable(results)
    assert j["applied"] == {
        "n": 2,
        "billed_read": 4,
        "billed_write": 13,
        "p50_ms": 60,
        "ddb_ops": {"PutItem": 5.5, "Query": 3},
    }
    assert j["duplicate"]["billed_read"] == 1
    table = "\n".join(render_events(results, "python -m bench --events-only"))
    assert "| trial order | 2 | 13 | 4 | PutItem 5.5, Query 3 | 60 |" in table
