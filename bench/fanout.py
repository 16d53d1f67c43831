"""The fan-out bench (issue 8 §7): for each bucket size, N customers over S staff enrolled at one instant, then the
bucket's fire through the sharded path — the coordinator lists, plans and dispatches; the shards run on the local
process-pool dispatcher (``ProcessShards``: each shard's deployed event, decoded, given to the fire entry point in a
worker process that built its services from the environment, as a Lambda invocation does). The virtual time is a
``FileClock`` the coordinator and the workers share. Measured: the time from the fire's start to the last shard's end
(its last task), each shard's wall time, the coordinator's. The results are bench/fanout_results.py's, rendered by
bench/fanout_report.py.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import ADMIN_TOKEN, SOP_WECOM, SOP_ZONE, BenchError, app_engine, plan_document, quiet_stdout
from bench.fanout_results import FanoutResults, FanoutRun
from bench.sop import FIRE_DELAY, create_customers

FAN_TENANT = "fanbench"
FAN_CORP = "wwfanbench0000001"
SIZES = ((1_000, 20), (10_000, 20))  # (touches, staff): issue 8 §7
LARGE = (100_000, 200)  # --large
# Shards the local dispatcher runs at once: one worker process per core. Deployed, each shard is its own Lambda
# invocation with its own CPU; here the shards share this machine's cores with DynamoDB Local's JVM, and running more
# at once than there are cores only time-slices them (every shard's wall time grows, the total does not shrink).
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
    from chalicelib.adapters.clock import FileClock
    from chalicelib.adapters.shards import ProcessShards
    from chalicelib.settings import ENV_CLOCK_FILE

    started = time.perf_counter()
    owners = [f"fanstaff{i:03d}" for i in range(staff)]
    with quiet_stdout():
        plan = stack.call("POST", f"/t/{FAN_TENANT}/plans", plan_document(f"扇出压测 {touches}"), token)
        stack.call("POST", f"/t/{FAN_TENANT}/plans/{plan['plan_id']}/publish", None, token)
    plan_id = str(plan["plan_id"])
    day = datetime.now(tenant.zone).date() + timedelta(days=2)  # ahead of every due time and TTL; a plan per size
    # The virtual time, in a file the workers read too (a clock per size: a FileClock never moves back).
    clock_file = os.path.join(tempfile.mkdtemp(prefix="siyu-fanout-"), "clock.json")
    clock = FileClock(clock_file)
    clock.set(datetime.combine(day, datetime.min.time(), tzinfo=tenant.zone).replace(hour=13), running=False)
    os.environ[ENV_CLOCK_FILE] = clock_file  # while the workers spawn: they inherit it
    try:
        shards = ProcessShards(timed_fire, workers=workers, prepare=prepare_worker)
        shards.warm()  # every worker started and its services built, as warm Lambda containers (not measured)
    finally:
        os.environ.pop(ENV_CLOCK_FILE, None)
    engine = app_engine(svc, clock=clock, scheduler=scheduler, shards=shards)
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
    clock.set(datetime.strptime(bucket.minute, "%Y%m%d%H%M").replace(tzinfo=UTC) + FIRE_DELAY, running=False)
    world = stack.sandbox.world
    wecom_before = len(world.calls())
    setup_s = time.perf_counter() - started
    progress(f"fan-out: measuring the fire of {bucket.bucket_id} ({touches} touches, {staff} staff)")
    t0 = time.perf_counter()
    coordinator = engine.fire(FAN_TENANT, bucket.bucket_id)
    coordinator_s = time.perf_counter() - t0
    spans = [span for span in shards.wait() if span is not None]
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
        sent=coordinator.sent + sum(s[3]["sent"] for s in spans),
        tasks=coordinator.tasks + sum(s[3]["tasks"] for s in spans),
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


def prepare_worker() -> None:
    """A shard worker's start-up, as a Lambda container's: import the fire entry point and build the services."""
    from chalicelib.bootstrap import services

    services()


def timed_fire(event: dict[str, Any]) -> tuple[float, float, int, dict[str, Any]]:
    """The fire entry point on one shard's event, with its start and end (``perf_counter`` is the machine's
    monotonic clock, the same in every process) and its size."""
    from chalicelib.jobs.sop import fire

    started = time.perf_counter()
    report = fire(event)
    return started, time.perf_counter(), len(event["shard"]["touches"]), report
