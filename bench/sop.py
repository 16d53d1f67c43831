"""The SOP engine's benchmarks (issue 3, section 8): enroll N customers into a 5-step day-based plan, then fire the
one bucket of N touches those enrollments fell into, spread over 20 staff; then one bulk enrollment job over the same
N customers into a third plan (bench/bulk.py). The results are
bench/sop_results.py's, rendered by bench/sop_report.py.

The engine is the real ``SopEngine`` over the real adapters the app builds (``services()``: the DynamoStore on
DynamoDB Local, the PlanService, the WeCom client over loopback to the sandbox) plus the real
``EventBridgeScheduler`` adapter on moto's Scheduler, with one difference: a virtual clock, so that the enrollments
fall in one local afternoon and the fire happens at the bucket's minute whatever the wall clock says. Everything is
metered as the callback bench is: DynamoDB by botocore events (ReturnConsumedCapacity), Scheduler calls by botocore
events on the adapter's client, WeCom calls from the sandbox world's call log; an audit counts every AWS call of the
process to prove nothing escaped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

from bench import stats
from bench.bulk import BULK_AT, run_bulk
from bench.capacity import item_size
from bench.common import (
    ADMIN_TOKEN,
    SOP_CORP,
    SOP_TENANT,
    SOP_WECOM,
    SOP_ZONE,
    STAFF_COUNT,
    BenchError,
    app_engine,
    bucket_label,
    count_wecom,
    escaped_calls,
    local_time,
    plan_document,
    quiet_stdout,
)
from bench.meter import ApiCallCounter, count_all_calls
from bench.sop_results import SopPhase, SopResults

ENROLL_FROM = wall_time(13, 0)  # the enrollments are spread evenly over one local afternoon
ENROLL_SPAN = timedelta(hours=3)
FIRE_DELAY = timedelta(seconds=5)  # Scheduler invokes the target a few seconds into the bucket's minute


def staff_ids(count: int = STAFF_COUNT) -> list[str]:
    return [f"sopstaff{i:02d}" for i in range(count)]


# --- the run ------------------------------------------------------------------------------------------------------


class BenchClock:
    """The engine's clock, set by the bench (the engine reads it for enrolled_at, due checks and fire decisions)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def set(self, instant: datetime) -> None:
        self.current = instant

    def epoch(self) -> float:
        return self.current.timestamp()


def run_sop(stack: Any, n: int, progress: Callable[[str], None], *, staff: int = STAFF_COUNT) -> SopResults:
    """Set up a tenant, its staff and two published plans through the API; N + warm-up customers through the store;
    then measure the enrollments, the fire of the bucket they share, and a bulk enrollment job over the same N
    customers into a third plan (bench/bulk.py)."""
    started = time.perf_counter()
    svc = stack.services()
    owners = staff_ids(staff)
    warm_n = staff  # one warm-up customer per staff member: the warm-up fire makes one task each
    with quiet_stdout():
        token, plan_id, warm_plan_id = _setup_tenant(stack, owners)
    tenant = svc.store.get_tenant(SOP_TENANT)
    if tenant is None:
        raise BenchError("the SOP tenant was not created")
    zone: ZoneInfo = tenant.zone
    day = datetime.now(zone).date() + timedelta(days=1)  # tomorrow, so every due time and TTL lies ahead
    start = datetime.combine(day, ENROLL_FROM, tzinfo=zone).astimezone(UTC)
    clock = BenchClock(start - timedelta(minutes=30))

    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.domain.instants import utc_key
    from chalicelib.domain.sop import Bucket

    scheduler = EventBridgeScheduler.for_settings(svc.settings)
    sched_meter = ApiCallCounter("scheduler")
    sched_meter.attach(scheduler.client)
    engine = app_engine(svc, clock=clock, scheduler=scheduler)

    progress(f"SOP: creating {n + warm_n} customers through the store (not measured)")
    # The warm-up customers were added a minute before the measured ones, so that the bulk job's filter (added at or
    # after the measured ones' minute) selects exactly the N measured customers.
    added = clock.now()
    warm_ids = create_customers(stack, tenant, owners, count=warm_n, first=0, at=added - timedelta(minutes=1))
    customer_ids = create_customers(stack, tenant, owners, count=n, first=warm_n, at=added)
    stack.attach_meter()

    progress(f"SOP: warm-up: {warm_n} enrollments into a second plan")
    warm_at = []
    for cid in warm_ids:
        warm = engine.enroll(tenant, cid, warm_plan_id, source="bulk")
        if warm is None:
            raise BenchError(f"warm-up enrollment of {cid} was refused")
        warm_at.append(warm.enrolled_at)
    stack.attach_meter()

    progress(
        f"SOP: measuring {n} enrollments between {local_time(start, zone)} and {local_time(start + ENROLL_SPAN, zone)}"
    )
    enroll = SopPhase("enroll", n, 0.0)
    enrolled_at: list[str] = []
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        for i, cid in enumerate(customer_ids):
            clock.set(start + ENROLL_SPAN * i / n)
            t = time.perf_counter()
            enrollment = engine.enroll(tenant, cid, plan_id, source="bulk")
            enroll.latencies_s.append(time.perf_counter() - t)
            if enrollment is None:
                raise BenchError(f"enrollment of {cid} was refused")
            enrolled_at.append(enrollment.enrolled_at)
            if (i + 1) % 2000 == 0:
                progress(f"  {i + 1}/{n} enrollments")
        enroll.wall_s = time.perf_counter() - t0
        enroll.ddb = stack.meter.since(ddb_mark)
        enroll.scheduler = sched_meter.since(sched_mark)
    enroll.unmetered = escaped_calls(audit, enroll)

    plan = svc.plans.current_plan(SOP_TENANT, plan_id)
    first, second = plan.steps[0], plan.steps[1]
    buckets = _buckets(first, enrolled_at, tenant)
    next_buckets = _buckets(second, enrolled_at, tenant)
    if len(buckets) != 1:
        raise BenchError(f"expected the enrollments in one bucket, they fell into {len(buckets)}: {buckets[:5]}")
    minute = buckets[0][1]
    bucket_id, payload = _scheduled_payload(stack, tenant.tenant_id, plan, first.id, minute)
    waiting = svc.store.touches_in(SOP_TENANT, bucket_id)
    if len(waiting) != n:
        raise BenchError(f"bucket {bucket_id} holds {len(waiting)} touches, expected {n}")

    due = datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC)
    clock.set(due + FIRE_DELAY)
    progress(f"SOP: warm-up fire of the second plan's bucket ({warm_n} touches)")
    warm_plan = svc.plans.current_plan(SOP_TENANT, warm_plan_id)
    [(warm_step, warm_minute)] = _buckets(warm_plan.steps[0], warm_at, tenant)
    warm_id = Bucket(SOP_TENANT, warm_plan_id, warm_plan.version, warm_step, warm_minute).bucket_id
    warm_report = engine.fire(SOP_TENANT, warm_id)
    if warm_report.sent != warm_n:
        raise BenchError(f"warm-up fire sent {warm_report.sent} of {warm_n}: {asdict(warm_report)}")
    stack.attach_meter()

    progress(f"SOP: measuring the fire of {bucket_id} ({n} touches, {staff} staff) as Scheduler's payload names it")
    fire = SopPhase("fire", n, 0.0)
    world = stack.sandbox.world
    wecom_before = len(world.calls())
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        report = engine.fire(payload["tenant_id"], payload["bucket_id"])
        fire.wall_s = time.perf_counter() - t0
        fire.ddb = stack.meter.since(ddb_mark)
        fire.scheduler = sched_meter.since(sched_mark)
    fire.unmetered = escaped_calls(audit, fire)
    fire.wecom = count_wecom(world.calls()[wecom_before:])
    if report.sent != n:
        raise BenchError(f"the fire sent {report.sent} of {n} touches: {asdict(report)}")
    tasks = [
        {"userid": t.userid, "customers": len(t.customer_ids), "status": t.status, "msgid": bool(t.msgid)}
        for t in svc.store.list_tasks(
            SOP_TENANT, userid=None, status=None, due_from=None, due_to=None, limit=10 * staff + 100
        )
        if t.bucket_id == bucket_id
    ]
    sizes = _item_sizes(stack, customer_ids[0], plan_id, bucket_id, waiting[0].key)

    bulk = run_bulk(
        stack,
        engine=engine,
        sched_meter=sched_meter,
        clock=clock,
        tenant=tenant,
        token=token,
        customers=n,
        added_from=utc_key(added),
        at=due + FIRE_DELAY + BULK_AT,
        progress=progress,
    )
    return SopResults(
        n=n,
        staff=staff,
        warmup=warm_n,
        enroll=enroll,
        fire=fire,
        buckets=[bucket_label(s, m) for s, m in buckets],
        next_buckets=[bucket_label(s, m) for s, m in next_buckets],
        bucket_touches=len(waiting),
        fire_report=asdict(report),
        tasks=sorted(tasks, key=lambda t: str(t["userid"])),
        item_bytes=sizes,
        enroll_window=f"{local_time(start, zone)} to {local_time(start + ENROLL_SPAN, zone)} ({zone.key})",
        fire_at=f"{local_time(due + FIRE_DELAY, zone, seconds=True)} ({zone.key})",
        setup_s=time.perf_counter() - started - enroll.wall_s - fire.wall_s - bulk.wall_s,
        bulk=bulk,
    )


def _buckets(step: Any, enrolled_at: Iterable[str], tenant: Any) -> list[tuple[str, str]]:
    """Distinct (step, due UTC minute) of a step over enrollments, by the engine's own timing rules."""
    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.domain import timing
    from chalicelib.services.sop import rules_of

    rules, zone = rules_of(tenant), tenant.zone
    cache: dict[str, str] = {}
    minutes: set[str] = set()
    for at in enrolled_at:
        day = at[:10]  # day-based steps depend only on the local date (and the rules, which are per tenant)
        if day not in cache or step.after_minutes is not None:
            cache[day] = timing.minute_bucket(timing.due_at(step, datetime.fromisoformat(at), rules, zone).due)
        minutes.add(cache[day])
    return sorted((step.id, m) for m in minutes)


def _setup_tenant(stack: Any, owners: list[str]) -> tuple[str, str, str]:
    """Tenant, tenant admin token, the staff and two published plans (measured + warm-up) through the API; returns
    the token and the two plans' ids."""
    body = {"tenant_id": SOP_TENANT, "name": "SOP 性能测试教育", "corp_id": SOP_CORP, "wecom": SOP_WECOM}
    body["timezone"] = SOP_ZONE
    stack.call("POST", "/admin/tenants", body, ADMIN_TOKEN)
    token = stack.call("POST", f"/admin/tenants/{SOP_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"]
    for i, userid in enumerate(owners):
        stack.call("POST", f"/t/{SOP_TENANT}/staff", {"userid": userid, "name": f"老师{i:02d}"}, token)
    ids = []
    for name in ("新客7天培育（压测）", "新客7天培育（预热）"):
        created = stack.call("POST", f"/t/{SOP_TENANT}/plans", plan_document(name), token)
        stack.call("POST", f"/t/{SOP_TENANT}/plans/{created['plan_id']}/publish", None, token)
        ids.append(str(created["plan_id"]))
    return token, ids[0], ids[1]


def create_customers(
    stack: Any,
    tenant: Any,
    owners: list[str],
    *,
    count: int,
    first: int,
    at: datetime,
    corp: str = SOP_CORP,
    id_prefix: str = "cu_sop",
) -> list[str]:
    """Customers as intake leaves them (profile synced, a channel touch, an active relation, two tags), written
    straight through the store, each the friend of its owner in the sandbox world (round-robin over the staff)."""
    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
    from chalicelib.domain.facts import StaffDayDelta
    from chalicelib.domain.instants import iso_of

    store = stack.services().store
    world = stack.sandbox.world
    when = iso_of(at, tenant.zone)
    date = when[:10]
    ids = []
    for n in range(first, first + count):
        owner = owners[n % len(owners)]
        ext = f"wmsopbench{n:022d}"
        world.event(corp, "add_external_contact", userid=owner, external_userid=ext, State="ch_sop")
        digest = f"{n:064x}"
        customer = Customer(
            customer_id=f"{id_prefix}{n:010d}",
            external_userid=ext,
            owner_userid=owner,
            source_channel_id="ch_sopbench",
            stage=Stage.NEW,
            added_at=when,
            created_at=when,
            updated_at=when,
            name=f"考研学员{n:05d}",
            gender=1 + n % 2,
            external_userids=(ext,),
            has_unionid=True,
            phone_masked="138****0000",
            tags=frozenset({"et_sop_source_douyin", "et_sop_year_2027"}),
            touches=(Attribution("ch_sopbench", owner, when, "new"),),
            relations=(Relation(owner, ext, "active", when),),
            profile_synced=True,
            aliases=(f"ext:{digest}", f"unionid:{digest}"),
            created_by=digest,
            version=1,
        )
        store.create_customer(tenant.tenant_id, customer, StaffDayDelta(owner, date, {"adds": 1}))
        ids.append(customer.customer_id)
    return ids


def _scheduled_payload(stack: Any, tenant_id: str, plan: Any, step_id: str, minute: str) -> tuple[str, dict[str, Any]]:
    """The bucket's schedule as moto holds it: its target's input is what the fire Lambda would receive."""
    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.domain.sop import Bucket
    from devstack.provision import local_client

    bucket = Bucket(tenant_id, plan.plan_id, plan.version, step_id, minute)
    client = local_client("scheduler", stack.scheduler_endpoint)
    group = stack.services().settings.schedule_group
    found = client.get_schedule(Name=bucket.schedule_name, GroupName=group)
    payload: dict[str, Any] = json.loads(found["Target"]["Input"])
    if payload.get("bucket_id") != bucket.bucket_id:
        raise BenchError(f"schedule {bucket.schedule_name} carries {payload}, expected bucket {bucket.bucket_id}")
    return bucket.bucket_id, payload


def _item_sizes(stack: Any, customer_id: str, plan_id: str, bucket_id: str, touch_key: str) -> dict[str, int]:
    """Sizes of typical items as DynamoDB bills them, read with a separate (unmetered) client after the runs."""
    # The app's modules are imported where the run needs them: ~0.3 s that `--help` and the unit tests skip.
    from chalicelib.adapters.dynamodb.keys import bucket_pk, customer_pk
    from devstack.provision import local_client

    client = local_client("dynamodb", stack.endpoint)
    table = stack.services().settings.table_name
    keys = {
        "customer profile": (customer_pk(SOP_TENANT, customer_id), "PROFILE"),
        "enrollment": (customer_pk(SOP_TENANT, customer_id), f"ENR#{plan_id}"),
        "touch": (bucket_pk(SOP_TENANT, bucket_id), touch_key),
    }
    out = {}
    for name, (pk, sk) in keys.items():
        item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        if item:
            out[name] = item_size(item)
    tasks = client.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": f"T#{SOP_TENANT}#TASKS"}},
    ).get("Items", [])
    heads = [t for t in tasks if bucket_id in t.get("doc", {}).get("S", "")]
    if heads:
        out["staff task head (median)"] = int(stats.median([item_size(t) for t in heads]))
        ids = [client.get_item(TableName=table, Key={"pk": t["pk"], "sk": {"S": "RCPT"}}).get("Item") for t in heads]
        if all(ids):
            out["staff task recipients (median)"] = int(stats.median([item_size(i) for i in ids if i]))
    return out
