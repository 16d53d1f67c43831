"""The fan-out bench (issue 8 §7): for each bucket size, N customers over S staff enrolled at one instant, then the
bucket's fire through the sharded path — the coordinator lists, plans and dispatches; the shards run on the local
thread-pool dispatcher (``ThreadedShards``, standing in for concurrent Lambda invocations). Measured: the time from
the fire's start to the last shard's end (its last task), each shard's wall time, the coordinator's. The results are
bench/fanout_results.py's, rendered by bench/fanout_report.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import ADMIN_TOKEN, SOP_WECOM, SOP_ZONE, BenchError, app_engine, plan_document, quiet_stdout
from bench.fanout_results import FanoutResults, FanoutRun
from bench.sop import FIRE_DELAY, BenchClock, create_customers

FAN_TENANT = "fanbench"
FAN_CORP = "wwfanbench0000001"
SIZES = ((1_000, 20), (10_000, 20))  # (touches, staff): issue 8 §7
LARGE = (100_000, 200)  # --large
# Shards the local dispatcher runs at once: one per core. Deployed, each shard is its own Lambda invocation with its
# own CPU; here the shards share this machine's cores with DynamoDB Local's JVM, and running more at once than there
# are cores only time-slices them (every shard's wall time grows, the total does not shrink).
SHARD_WORKERS = max(os.cpu_count() or 1, 1)
SETUP_WORKERS = 8  # threads writing the customers and enrollments (not measured)


def fanout_sizes(*, large: bool) -> list[tuple[int, int]]:
    return [*SIZES, *([LARGE] if large else [])]


def run_fanout(
    stack: Any,
    sizes: Sequence[tuple[int, int]],
    progress: Callable[[str], None],
    *,
    workers: int = SHARD_WORKERS,
    large: bool = False,
) -> FanoutResults:
    # The app's modules are imported where the run needs them: `--help` and the unit tests skip them.
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.services.sop.fanout import DEFAULT_WRITERS

    svc = stack.services()
    with quiet_stdout():
        token = _setup_tenant(stack)
    tenant = svc.store.get_tenant(FAN_TENANT)
    if tenant is None:
        raise BenchError("the fan-out tenant was not created")
    scheduler = EventBridgeScheduler.for_settings(svc.settings)
    results = FanoutResults(svc.settings.fire_shard_size, workers, DEFAULT_WRITERS, large=large)
    first = 0
    for touches, staff in sizes:
        results.runs.append(
            _one(stack, svc, scheduler, tenant, token, touches, staff, first=first, workers=workers, progress=progress)
        )
        first += touches
    return results


def _one(
    stack: Any,
    svc: Any,
    scheduler: Any,
    tenant: Any,
    token: str,
    touches: int,
    staff: int,
    *,
    first: int,
    workers: int,
    progress: Callable[[str], None],
) -> FanoutRun:
    from chalicelib.adapters.shards import ThreadedShards

    started = time.perf_counter()
    owners = [f"fanstaff{i:03d}" for i in range(staff)]
    with quiet_stdout():
        plan = stack.call("POST", f"/t/{FAN_TENANT}/plans", plan_document(f"扇出压测 {touches}"), token)
        stack.call("POST", f"/t/{FAN_TENANT}/plans/{plan['plan_id']}/publish", None, token)
    plan_id = str(plan["plan_id"])
    day = datetime.now(tenant.zone).date() + timedelta(days=2)  # ahead of every due time and TTL; a plan per size
    clock = BenchClock(datetime.combine(day, datetime.min.time(), tzinfo=tenant.zone).replace(hour=13).astimezone(UTC))
    shards = ThreadedShards(workers=workers)
    engine = app_engine(svc, clock=clock, scheduler=scheduler, shards=shards)  # threaded shards locally
    progress(f"fan-out: writing and enrolling {touches} customers over {staff} staff (not measured)")
    at = clock.now()

    def write(part: tuple[int, int]) -> list[str]:
        return create_customers(stack, tenant, owners, count=part[1], first=part[0], at=at, corp=FAN_CORP)

    with ThreadPoolExecutor(max_workers=SETUP_WORKERS) as pool:
        step = -(-touches // SETUP_WORKERS)
        parts = [(first + i, min(step, touches - i)) for i in range(0, touches, step)]
        ids = [cid for chunk in pool.map(write, parts) for cid in chunk]
        refused = sum(e is None for e in pool.map(lambda c: engine.enroll(tenant, c, plan_id, source="bulk"), ids))
    if refused:
        raise BenchError(f"{refused} fan-out enrollments were refused")
    version = svc.plans.current_plan(FAN_TENANT, plan_id).version
    [bucket] = svc.store.plan_buckets(FAN_TENANT, plan_id, version, from_minute="0")
    clock.set(datetime.strptime(bucket.minute, "%Y%m%d%H%M").replace(tzinfo=UTC) + FIRE_DELAY)

    spans: list[tuple[float, float, int, Any]] = []
    lock = threading.Lock()

    def timed(tenant_id: str, bucket_id: str, shard: Any) -> Any:
        t = time.perf_counter()
        report = engine.fire_shard(tenant_id, bucket_id, shard)
        with lock:
            spans.append((t, time.perf_counter(), len(shard.touches), report))
        return report

    shards.bind(timed)
    world = stack.sandbox.world
    wecom_before = len(world.calls())
    setup_s = time.perf_counter() - started
    progress(f"fan-out: measuring the fire of {bucket.bucket_id} ({touches} touches, {staff} staff)")
    t0 = time.perf_counter()
    coordinator = engine.fire(FAN_TENANT, bucket.bucket_id)
    coordinator_s = time.perf_counter() - t0
    shards.wait()
    end = max((s[1] for s in spans), default=time.perf_counter())
    shards.close()
    adds = sum(1 for c in world.calls()[wecom_before:] if str(c.api).endswith("add_msg_template"))
    run = FanoutRun(
        touches=touches,
        staff=staff,
        coordinator_s=coordinator_s,
        last_task_s=end - t0,
        shard_sizes=[s[2] for s in spans],
        shard_s=[s[1] - s[0] for s in spans],
        sent=coordinator.sent + sum(s[3].sent for s in spans),
        tasks=coordinator.tasks + sum(s[3].tasks for s in spans),
        add_msg_template=adds,
        setup_s=setup_s,
    )
    if run.sent != touches:
        raise BenchError(f"the fan-out fire sent {run.sent} of {touches} touches ({run.shards} shards)")
    return run


def _setup_tenant(stack: Any) -> str:
    """The fan-out tenant and its admin token through the API (its staff are the customers' owners)."""
    body = {"tenant_id": FAN_TENANT, "name": "扇出压测教育", "corp_id": FAN_CORP, "wecom": SOP_WECOM}
    body["timezone"] = SOP_ZONE
    stack.call("POST", "/admin/tenants", body, ADMIN_TOKEN)
    return str(stack.call("POST", f"/admin/tenants/{FAN_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"])
