"""The leaderboard bench (issue 10 §9): a group's leaderboard read at 50 and at 5,000 members costs the same, and
what one check-in writes. Pure results (``PointsRun``, ``PointsResults``) and the run; bench/points_report.py
renders them.

Per group size: the board is seeded with its members' entries (not measured: BatchWriteItem of the same items a
check-in writes), then one member checks in on two consecutive local days through the app's own PointsService
(measured: a first entry, then an entry moved), then ``GET …/groups/{chat_id}/leaderboard`` at limits 20 and 100
through the app (measured, warm: the third read of each).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.capacity import TRANSACT_WRITE, CallRecord, Capacity, count_operations, total_capacity
from bench.common import ADMIN_TOKEN, BenchError, quiet_stdout

PTS_TENANT = "ptsbench"
PTS_CORP = "wwptsbench0000001"
PTS_WECOM = {
    "token": "ptsBenchToken9",
    "encoding_aes_key": "P1q2R3s4T5u6V7w8X9y0Z1a2B3c4D5e6F7g8H9i0J1k",
    "secret": "pts-bench-secret",
}
SIZES = (50, 5_000)
LIMITS = (20, 100)
READS = 3  # each leaderboard read is made this often; the last (warm) one is measured


@dataclass(frozen=True)
class Measured:
    """One measured call: its DynamoDB capacity and calls by operation, and its wall time."""

    capacity: Capacity
    ops: dict[str, int]
    seconds: float
    query: Capacity = field(default_factory=Capacity)  # the board Query's own share (leaderboard reads)
    tx_items: int = 0  # items in the TransactWriteItems calls (check-ins)
    tx_billed: float = 0.0  # what AWS bills for them: the meter's, from each item (capacity.transaction_write_units)


@dataclass
class PointsRun:
    members: int
    reads: dict[int, Measured] = field(default_factory=dict)  # limit -> the leaderboard read
    first_checkin: Measured | None = None
    moved_checkin: Measured | None = None
    top: list[str] = field(default_factory=list)  # the top entries' customer ids (limit 20), to check the order
    seed_s: float = 0.0


@dataclass
class PointsResults:
    runs: list[PointsRun] = field(default_factory=list)

    def run(self, members: int) -> PointsRun | None:
        return next((r for r in self.runs if r.members == members), None)


def _measured(records: list[CallRecord], seconds: float) -> Measured:
    query = total_capacity(r for r in records if r.operation == "Query")
    tx = [r for r in records if r.operation == TRANSACT_WRITE]
    items, billed = sum(r.tx_items for r in tx), total_capacity(tx).billed_write
    return Measured(total_capacity(records), count_operations(records), seconds, query, items, billed)


def run_points(stack: Any, progress: Callable[[str], None], sizes: tuple[int, ...] = SIZES) -> PointsResults:
    token = _setup_tenant(stack)
    results = PointsResults()
    for members in sizes:
        results.runs.append(_one(stack, token, members, progress))
    return results


def _one(stack: Any, token: str, members: int, progress: Callable[[str], None]) -> PointsRun:
    from chalicelib.domain.signals import CHECKIN, Signal  # the app's modules: off `--help` and the unit tests

    chat_id = f"wrptsbench{members}"
    run = PointsRun(members)
    progress(f"points: seeding a leaderboard of {members:,} members (not measured)")
    started = time.perf_counter()
    _seed(stack, chat_id, members - 1)
    run.seed_s = time.perf_counter() - started
    svc = stack.services()
    tenant = svc.tenants.get(PTS_TENANT)
    member = "cptsbenchmember"
    day1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    for n, attr in ((0, "first_checkin"), (1, "moved_checkin")):
        at = day1 + timedelta(days=n)
        signal = Signal(CHECKIN, at, chat_id=chat_id, ref=f"bench-{members}-{n}")
        stack.attach_meter()
        mark, t0 = stack.meter.mark(), time.perf_counter()
        with quiet_stdout():
            svc.points.on_signal(tenant, member, signal)
        setattr(run, attr, _measured(stack.meter.since(mark), time.perf_counter() - t0))
    for limit in LIMITS:
        path = f"/t/{PTS_TENANT}/groups/{chat_id}/leaderboard?limit={limit}"
        for _ in range(READS):
            stack.attach_meter()
            mark, t0 = stack.meter.mark(), time.perf_counter()
            with quiet_stdout():
                body = stack.call("GET", path, token=token)
            measured = _measured(stack.meter.since(mark), time.perf_counter() - t0)
        if len(body["items"]) != min(limit, members):
            raise BenchError(f"the leaderboard of {members} answered {len(body['items'])} rows at limit {limit}")
        run.reads[limit] = measured
        if limit == LIMITS[0]:
            run.top = [i["customer_id"] for i in body["items"]]
    if member not in run.top[:1]:
        raise BenchError(f"the member who checked in twice is not first on the board of {members}: {run.top[:3]}")
    return run


def _seed(stack: Any, chat_id: str, count: int) -> None:
    """``count`` members' board entries, each as a single check-in leaves it (10 points), by BatchWriteItem."""
    from chalicelib.adapters.dynamodb import keys as k
    from chalicelib.adapters.dynamodb.models import BoardItem

    reached = "2026-11-30T01:00:00Z"
    with BoardItem.batch_write() as batch:
        for n in range(count):
            cid = f"cptsbench{n:08d}"
            item = BoardItem(pk=k.board_pk(PTS_TENANT, chat_id), sk=k.board_sk(10, reached, cid), customer_id=cid)
            item.score, item.checkins, item.streak, item.reached = 10, 1, 1, reached
            batch.save(item)


def _setup_tenant(stack: Any) -> str:
    """The points tenant and its admin token through the API."""
    body = {"tenant_id": PTS_TENANT, "name": "打卡压测教育", "corp_id": PTS_CORP, "wecom": PTS_WECOM}
    stack.call("POST", "/admin/tenants", body, ADMIN_TOKEN)
    return str(stack.call("POST", f"/admin/tenants/{PTS_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"])
