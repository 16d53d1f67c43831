"""The SOP engine's benchmarks (issue 3, section 8): enroll N customers into a 5-step day-based plan, then fire the
one bucket of N touches those enrollments fell into, spread over 20 staff; then one bulk enrollment job over the same
N customers into a third plan (bench/bulk.py).

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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bench import stats
from bench.meter import (
    CONDITION_FAILED,
    ApiCall,
    ApiCallCounter,
    CallRecord,
    Capacity,
    count_api_calls,
    total_capacity,
)

if TYPE_CHECKING:
    from bench.bulk import BulkResults

SOP_TENANT = "sopbench"
SOP_CORP = "wwsopbench0000001"
SOP_ZONE = "Asia/Shanghai"
SOP_WECOM = {
    "token": "sopBenchToken7",
    "encoding_aes_key": "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v",
    "secret": "sop-bench-secret",
}
STAFF_COUNT = 20
ENROLL_FROM = wall_time(13, 0)  # the enrollments are spread evenly over one local afternoon
ENROLL_SPAN = timedelta(hours=3)
FIRE_DELAY = timedelta(seconds=5)  # Scheduler invokes the target a few seconds into the bucket's minute
# (id, day, at, content type, text): the issue's "5-step day-based plan", in the spirit of a 7-day nurture.
STEPS = (
    ("s1", 0, "20:00", "marketing", "今晚8点直播：考研英语作文高分模板，点链接预约，直播间送资料包～"),
    ("s2", 1, "09:00", "interactive", "早上好！昨晚直播的笔记整理好了，需要的同学回复 1，我发给你～"),
    ("s3", 2, "20:00", "marketing", "9.9 元体验课今晚开抢：3 节真题精讲 + 1 次作文批改，名额有限。"),
    ("s4", 4, "10:00", "interactive", "最近复习到哪一章啦？有卡住的题目可以直接发我，老师帮你看看。"),
    ("s5", 6, "20:00", "marketing", "新客专享：全年班报名立减 300 元，今晚 24 点截止，私信我锁定名额。"),
)


def plan_document(name: str) -> dict[str, Any]:
    """The plan as ops would POST it (chalicelib/schemas/plan.schema.json)."""
    return {
        "name": name,
        "trigger": {"type": "manual"},
        "audience": {"stages": ["new"]},
        "steps": [
            {
                "id": sid,
                "day": day,
                "at": at,
                "content_type": kind,
                "message": {"text": text},
                "executor": "owner",
                "notes": "按话术发送，客户回复后及时跟进。",
                "lateness": {"max_minutes": 60, "then": "next_slot"},
            }
            for sid, day, at, kind, text in STEPS
        ],
        "exit": [{"type": "order", "kind": "trial"}],
        "reentry": "never",
        "priority": 10,
    }


def staff_ids(count: int = STAFF_COUNT) -> list[str]:
    return [f"sopstaff{i:02d}" for i in range(count)]


# --- results (pure data: report.py renders them, tests build them by hand) ------------------------------------------


@dataclass
class SopPhase:
    """One measured SOP operation: N enrollments, or one fire of N touches."""

    key: str
    n: int  # enrollments, or touches in the fired bucket
    wall_s: float
    ddb: list[CallRecord] = field(default_factory=list)
    scheduler: list[ApiCall] = field(default_factory=list)
    wecom: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)  # per call of the engine (enrollment only)
    unmetered: dict[str, int] = field(default_factory=dict)  # by service: calls that escaped the meters (must be 0)

    @property
    def capacity(self) -> Capacity:
        return total_capacity(self.ddb)

    @property
    def per_unit(self) -> Capacity:
        """Capacity per enrollment / per touch."""
        c = self.capacity
        n = max(self.n, 1)
        return Capacity(c.read / n, c.write / n, c.billed_read / n, c.billed_write / n)

    @property
    def ddb_ops(self) -> dict[str, int]:
        return count_ops(self.ddb)

    @property
    def scheduler_ops(self) -> dict[str, int]:
        return count_api_calls(self.scheduler)

    @property
    def scheduler_calls(self) -> int:
        return len(self.scheduler)

    @property
    def wecom_total(self) -> int:
        return sum(self.wecom.values())

    @property
    def per_thousand_s(self) -> float:
        return self.wall_s / max(self.n, 1) * 1000


@dataclass
class SopResults:
    n: int
    staff: int
    warmup: int
    enroll: SopPhase
    fire: SopPhase
    buckets: list[str]  # the distinct (step, due minute) buckets the enrollments' first touches fell into
    next_buckets: list[str]  # the same for the step the fire scheduled next
    bucket_touches: int  # touches waiting in the fired bucket before the fire
    fire_report: dict[str, Any]
    tasks: list[dict[str, Any]]  # the staff tasks the fire created: userid, customers, status
    item_bytes: dict[str, int]  # typical item sizes (customer profile, enrollment, touch, task)
    enroll_window: str
    fire_at: str
    setup_s: float
    command: str = ""
    bulk: BulkResults | None = None  # the bulk enrollment job over the same N customers, run after the fire


def count_ops(records: Iterable[CallRecord]) -> dict[str, int]:
    """DynamoDB calls by operation; the failed ones also under ``Operation:ErrorCode``."""
    out: dict[str, int] = {}
    for r in records:
        out[r.operation] = out.get(r.operation, 0) + 1
        if r.error:
            name = f"{r.operation}:{r.error}"
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


# What each (operation, key shape) is, in the engine and its store (chalicelib/adapters/dynamodb/sop.py, plans.py).
ENGINE_CALLS = {
    ("GetItem", "T/TENANT"): "get_tenant",
    ("GetItem", "T/PLAN"): "plans.current_plan (plan head)",
    ("BatchGetItem", "PL/V+T/PLAN"): "plans.plan_version (head + version)",
    ("GetItem", "C/PROFILE"): "get_customer",
    ("GetItem", "C/ENR"): "get_enrollment",
    ("BatchGetItem", "C/PROFILE"): "get_customers (a page of touches or customers)",
    ("BatchGetItem", "C/ENR"): "get_enrollments (a page of touches or customers)",
    ("PutItem", "C/ENR"): "put_enrollment / end_enrollment",
    ("PutItem", "BKT/*"): "add_touch",
    ("PutItem", "BKT/BUCKET"): "register_bucket",
    ("PutItem", "PLB/*"): "register_bucket (the plan version's bucket list, first touch only)",
    ("GetItem", "BKT/BUCKET"): "get_bucket",
    ("UpdateItem", "BKT/BUCKET"): "drain_bucket / reopen_bucket / feed_bucket",
    ("Query", "table:BKT"): "touches_in",
    ("UpdateItem", "BKT/*"): "move_touch",
    ("UpdateItem", "C/CAP"): "take_cap",
    ("UpdateItem", "C/F"): "take_quota (daily cap + monthly limit; records the sent touch on the timeline)",
    ("PutItem", "C/F"): "timeline entry (enrollment start or exit, skipped touch)",
    ("PutItem", "PLE/*"): "put_roster (the plan's roster entry)",
    ("UpdateItem", "C/PROFILE"): "advance_stage (a new customer's first enrollment: nurturing)",
    ("Query", "table:T"): "list_plans (the published plans a stage may trigger; cached 30 s)",
    ("Query", "table:C"): "enrollments_of",
    ("PutItem", "C/SIL"): "silence timer",
    ("PutItem", "TASK/TASK"): "create_task / save_task (the task's head)",
    ("PutItem", "TASK/RCPT"): "create_task (the task's customer ids)",
    ("Query", "table:TASK"): "get_task",
    ("Query", "gsi1:CUSTOMERS"): "list_customers (a page of the job's filter)",
    ("GetItem", "JOB/JOB"): "get_job (once per start/advance call)",
    ("PutItem", "JOB/JOB"): "put_job (create; then each page's advance, conditional on seq)",
}


def call_key(record: CallRecord) -> tuple[str, str]:
    return record.operation, record.item


def units_by_call(records: Iterable[CallRecord]) -> dict[tuple[str, str], tuple[float, float]]:
    """Billed (read, write) units by (operation, key shape)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        read, write = out.get(call_key(r), (0.0, 0.0))
        out[call_key(r)] = (read + r.capacity.billed_read, write + r.capacity.billed_write)
    return dict(sorted(out.items()))


def calls_by_call(records: Iterable[CallRecord]) -> dict[tuple[str, str], tuple[int, int, float, list[float]]]:
    """(calls, of which failed their condition, total seconds, per-call seconds) by (operation, key shape)."""
    out: dict[tuple[str, str], tuple[int, int, float, list[float]]] = {}
    for r in records:
        calls, failed, total, each = out.get(call_key(r), (0, 0, 0.0, []))
        each.append(r.seconds)
        out[call_key(r)] = (calls + 1, failed + (r.error == CONDITION_FAILED), total + r.seconds, each)
    return dict(sorted(out.items()))


def units_by_op(records: Iterable[CallRecord]) -> dict[str, tuple[float, float]]:
    """Billed (read, write) units by operation."""
    out: dict[str, tuple[float, float]] = {}
    for (op, _item), (read, write) in units_by_call(records).items():
        r0, w0 = out.get(op, (0.0, 0.0))
        out[op] = (r0 + read, w0 + write)
    return out


def bucket_label(step_id: str, minute: str) -> str:
    """``s1 @ 2026-12-02 12:00 UTC`` from a step id and a "YYYYMMDDHHMM" UTC minute."""
    return f"{step_id} @ {minute[:4]}-{minute[4:6]}-{minute[6:8]} {minute[8:10]}:{minute[10:12]} UTC"


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
    from bench.harness import BenchError, quiet_stdout
    from bench.meter import count_all_calls

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

    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.domain.sop import Bucket
    from chalicelib.services.sop import SopEngine

    scheduler = EventBridgeScheduler.for_settings(svc.settings)
    sched_meter = ApiCallCounter("scheduler")
    sched_meter.attach(scheduler.client)
    engine = SopEngine(svc.store, svc.plans, scheduler, svc.wecom, clock, svc.ids)

    progress(f"SOP: creating {n + warm_n} customers through the store (not measured)")
    # The warm-up customers were added a minute before the measured ones, so that the bulk job's filter (added at or
    # after the measured ones' minute) selects exactly the N measured customers.
    added = clock.now()
    warm_ids = _create_customers(stack, tenant, owners, count=warm_n, first=0, at=added - timedelta(minutes=1))
    customer_ids = _create_customers(stack, tenant, owners, count=n, first=warm_n, at=added)
    stack.attach_meter()

    progress(f"SOP: warm-up: {warm_n} enrollments into a second plan")
    warm_at = []
    for cid in warm_ids:
        warm = engine.enroll(tenant, cid, warm_plan_id, source="bulk")
        if warm is None:
            raise BenchError(f"warm-up enrollment of {cid} was refused")
        warm_at.append(warm.enrolled_at)
    stack.attach_meter()

    progress(f"SOP: measuring {n} enrollments between {_local(start, zone)} and {_local(start + ENROLL_SPAN, zone)}")
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
    enroll.unmetered = _escaped(audit, enroll)

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
    fire.unmetered = _escaped(audit, fire)
    fire.wecom = _count_wecom(world.calls()[wecom_before:])
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

    from bench.bulk import BULK_AT, run_bulk
    from chalicelib.domain.instants import utc_key

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
        enroll_window=f"{_local(start, zone)} to {_local(start + ENROLL_SPAN, zone)} ({zone.key})",
        fire_at=f"{_local(due + FIRE_DELAY, zone, seconds=True)} ({zone.key})",
        setup_s=time.perf_counter() - started - enroll.wall_s - fire.wall_s - bulk.wall_s,
        bulk=bulk,
    )


def _local(instant: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _escaped(audit: dict[str, int], phase: SopPhase) -> dict[str, int]:
    return {
        "dynamodb": audit.get("dynamodb", 0) - len(phase.ddb),
        "scheduler": audit.get("scheduler", 0) - len(phase.scheduler),
        "other": sum(v for k, v in audit.items() if k not in ("dynamodb", "scheduler")),
    }


def _count_wecom(calls: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in calls:
        out[str(c.api)] = out.get(str(c.api), 0) + 1
    return dict(sorted(out.items()))


def _buckets(step: Any, enrolled_at: Iterable[str], tenant: Any) -> list[tuple[str, str]]:
    """Distinct (step, due UTC minute) of a step over enrollments, by the engine's own timing rules."""
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
    from bench.harness import ADMIN_TOKEN

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


def _create_customers(stack: Any, tenant: Any, owners: list[str], *, count: int, first: int, at: datetime) -> list[str]:
    """Customers as intake leaves them (profile synced, a channel touch, an active relation, two tags), written
    straight through the store, each the friend of its owner in the sandbox world (round-robin over the staff)."""
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
        world.event(SOP_CORP, "add_external_contact", userid=owner, external_userid=ext, State="ch_sop")
        digest = f"{n:064x}"
        customer = Customer(
            customer_id=f"cu_sop{n:010d}",
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
    from chalicelib.domain.sop import Bucket
    from devstack.provision import local_client

    bucket = Bucket(tenant_id, plan.plan_id, plan.version, step_id, minute)
    client = local_client("scheduler", stack.scheduler_endpoint)
    group = stack.services().settings.schedule_group
    found = client.get_schedule(Name=bucket.schedule_name, GroupName=group)
    payload: dict[str, Any] = json.loads(found["Target"]["Input"])
    if payload.get("bucket_id") != bucket.bucket_id:
        from bench.harness import BenchError

        raise BenchError(f"schedule {bucket.schedule_name} carries {payload}, expected bucket {bucket.bucket_id}")
    return bucket.bucket_id, payload


def _item_sizes(stack: Any, customer_id: str, plan_id: str, bucket_id: str, touch_key: str) -> dict[str, int]:
    """Sizes of typical items as DynamoDB bills them, read with a separate (unmetered) client after the runs."""
    from bench.meter import item_size
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
