"""The leaderboard bench's section of docs/performance.md, its targets, summary lines and JSON digest: pure
functions of bench/points.py's results (unit-testable offline)."""

from __future__ import annotations

from typing import Any

from bench.common import counts, fmt, table
from bench.points import LIMITS, Measured, PointsResults


def points_targets(results: PointsResults, command: str) -> list[tuple[str, str, str, bool, str]]:
    """Issue 10 §9: a leaderboard read costs the same at every group size (the board Query's billed read units)."""
    small, large = results.runs[0] if results.runs else None, results.runs[-1] if results.runs else None
    out: list[tuple[str, str, str, bool, str]] = []
    if small is None or large is None or small is large:
        return out
    for limit in LIMITS:
        a, b = small.reads.get(limit), large.reads.get(limit)
        if a is None or b is None or limit > small.members:  # the small board has fewer rows than asked for
            continue
        out.append(
            (
                f"Leaderboard read (limit {limit}): billed read units at {large.members:,} vs {small.members} members",
                f"= at {small.members} ({fmt(a.capacity.billed_read)})",
                fmt(b.capacity.billed_read),
                b.capacity.billed_read <= a.capacity.billed_read,
                command,
            )
        )
    return out


def render_points(results: PointsResults, command: str) -> list[str]:
    lines = [
        "## Leaderboards and check-ins",
        "",
        "Issue 10, section 9: a group's leaderboard (`GET /t/{tenant}/groups/{chat_id}/leaderboard`) costs the same "
        "to read at 50 or 5,000 members, because each member's entry is one item whose sort key encodes the score "
        "(inverted, zero-padded) and the top N is one Query with Limit N (docs/data-model.md, *Check-ins, points "
        f"and leaderboards*). Command: `{command}`.",
        "",
        "- Not measured: the board seeded by BatchWriteItem with the entries a single check-in leaves (10 points), "
        "for all members but one.",
        "- Measured: that member's check-in on two consecutive local days through the app's PointsService (the "
        "signal subscriber a business event reaches): the first writes a new entry, the second moves it (delete + "
        "put in the same transaction). These are the points' own writes, on top of the business event's fact.",
        f"- Measured: `GET …/leaderboard?limit=N` through the app, N in {', '.join(map(str, LIMITS))}; the warm "
        "read of 3 is reported (the tenant cached, as in a warm container). *Board Query* is the Query on the board "
        "partition alone; *request* is everything the request did (the token check included).",
        "",
    ]
    rows = []
    for run in results.runs:
        for limit, m in sorted(run.reads.items()):
            rows.append(
                [
                    f"{run.members:,}",
                    str(limit),
                    str(min(limit, run.members)),
                    fmt(m.query.billed_read),
                    fmt(m.capacity.billed_read),
                    fmt(m.capacity.billed_write),
                    counts(m.ops),
                    fmt(m.seconds * 1000, 1),
                ]
            )
    lines += table(
        [
            "members",
            "limit",
            "rows",
            "board Query read units (billed)",
            "request read units (billed)",
            "request write units (billed)",
            "DynamoDB calls",
            "latency (ms)",
        ],
        rows,
    )
    lines += [
        "",
        "What one check-in writes. DynamoDB Local reports 2 write units for a TransactWriteItems of small items "
        "whatever it holds (one Put and seven alike: see *Reported vs billed units*), so *reported* undercounts a "
        "transaction of several items; *billed* is the shared meter's, computed from the request: 2x each item's "
        "write units (a Put's from its size; an Update's or Delete's 1, exact for items up to 1 KB as all of these "
        "are). The reads are the check-in's rule and its one-read state (standing, day).",
        "",
    ]
    rows = []
    for run in results.runs:
        checkins = (("first check-in (new entry)", run.first_checkin), ("next day (entry moved)", run.moved_checkin))
        for label, checkin in checkins:
            if checkin is not None:
                rows.append(
                    [
                        f"{run.members:,}",
                        label,
                        str(checkin.tx_items),
                        fmt(checkin.capacity.write),
                        fmt(checkin.tx_billed),
                        fmt(checkin.capacity.billed_read),
                        counts(checkin.ops),
                        fmt(checkin.seconds * 1000, 1),
                    ]
                )
    headers = ["members", "check-in", "items written", "write units, reported", "write units, billed"]
    lines += table([*headers, "read units (billed)", "DynamoDB calls", "latency (ms)"], rows)
    return [*lines, ""]


def points_summary_lines(results: PointsResults) -> list[str]:
    out = []
    for run in results.runs:
        reads = ", ".join(f"limit {n}: R {fmt(m.capacity.billed_read)}" for n, m in sorted(run.reads.items()))
        moved = run.moved_checkin.tx_billed if run.moved_checkin else None
        out.append(f"leaderboard of {run.members:,}: {reads}; a check-in that moves an entry W {fmt(moved)}")
    return out


def points_jsonable(results: PointsResults) -> dict[str, Any]:
    return {
        str(run.members): {
            "reads": {
                str(n): m.capacity.__dict__ | {"query": m.query.__dict__, "seconds": m.seconds}
                for n, m in run.reads.items()
            },
            "first_checkin": _checkin_json(run.first_checkin),
            "moved_checkin": _checkin_json(run.moved_checkin),
        }
        for run in results.runs
    }


def _checkin_json(m: Measured | None) -> dict[str, Any] | None:
    return None if m is None else m.capacity.__dict__ | {"tx_items": m.tx_items, "tx_billed": m.tx_billed}
