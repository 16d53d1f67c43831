"""The metrics read bench (issue 11 §3): one ``GET /t/{tenant}/metrics/funnel`` (7 days, by channel) costs the same
billed read units for a tenant of 1,000 customers and one of 100,000. Pure results (``MetricsRead``, ``MetricsRun``,
``MetricsResults``) and the run; bench/metrics_report.py renders them, bench/metrics_facts.py makes the facts.

Per tenant (the same configuration at both sizes: 10 channels, 20 staff, 2 published plans of 3 steps, 5 groups,
through the API where an operator would use it, the groups in the store as a sync leaves them) and per size:
- the first ``recorded`` customers' facts through the metrics writer's store call (``record_metric_fact``: the fact
  log, first-occurrence markers, counter ADDs), as the signal subscriber records them;
- for a tenant larger than that, every customer's facts generated in memory, counted and folded by
  ``chalicelib.domain.metrics.facts.fold`` (the rebuild's sum), the day counters written by
  ``replace_metric_counters`` (the rebuild's own write); no fact log for those, which the read never touches;
- a channel-day's exposure (uv) and spend, and a group-day's member count, scaled with the customers;
- then the read through the app: warm-up reads, and ``READS`` measured ones (billed units, calls, latency).
The funnel's adds, trial and full-price persons must equal what the facts fold to, or the run fails.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from typing import Any

from bench import stats
from bench.capacity import Capacity, count_operations, total_capacity
from bench.common import ADMIN_TOKEN, SOP_ZONE, BenchError, plan_document, quiet_stdout

MTR_CORP = "wwmtrbench0000001"
MTR_WECOM = {
    "token": "mtrBenchToken5",
    "encoding_aes_key": "M1e2T3r4I5c6S7b8E9n0C1h2D3e4F5g6H7i8J9k0L1m",
    "secret": "mtr-bench-secret",
}
SIZES = (1_000, 100_000)
QUICK_SIZES = (100, 1_000)
CHANNELS, STAFF, PLANS, STEPS, GROUPS = 10, 20, 2, 3, 5
DAYS = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29")
WARMUP, READS = 3, 10
UV_PER_CUSTOMER, SPEND_YUAN_PER_CUSTOMER = 12, 35


@dataclass(frozen=True)
class MetricsRead:
    """One measured funnel read: its DynamoDB capacity, calls by operation and by item kind, and its wall time."""

    capacity: Capacity
    ops: dict[str, int]
    items: dict[str, int]  # calls by operation and item kind (bench/capacity.key_label): what the read touched
    seconds: float
    units: dict[str, float] = field(default_factory=dict)  # billed read units by operation and item kind
    batch_keys: int = 0  # BatchGetItem keys asked for, and items found
    batch_found: int = 0


@dataclass
class MetricsRun:
    customers: int
    recorded: int  # customers whose facts went through record_metric_fact
    facts_recorded: int = 0
    facts_folded: int = 0  # every customer's facts, counted in memory and folded into day counters (0: all recorded)
    counter_items: int = 0  # day counter items replace_metric_counters wrote
    funnel: dict[str, int] = field(default_factory=dict)  # the read's funnel stages
    expected: dict[str, int] = field(default_factory=dict)  # what the facts fold to
    reads: list[MetricsRead] = field(default_factory=list)
    seed_s: float = 0.0
    unmetered: int = 0  # DynamoDB calls of the measured reads that escaped the meter

    @property
    def billed_read(self) -> float:
        return stats.median([r.capacity.billed_read for r in self.reads]) if self.reads else 0.0

    @property
    def billed_read_spread(self) -> tuple[float, float]:
        units = [r.capacity.billed_read for r in self.reads] or [0.0]
        return min(units), max(units)

    @property
    def p50_ms(self) -> float:
        return stats.percentile([r.seconds * 1000 for r in self.reads], 50) if self.reads else 0.0

    @property
    def ops(self) -> dict[str, int]:
        return self.reads[-1].ops if self.reads else {}

    @property
    def items(self) -> dict[str, int]:
        return self.reads[-1].items if self.reads else {}

    @property
    def batch_keys(self) -> int:
        return self.reads[-1].batch_keys if self.reads else 0

    @property
    def batch_found(self) -> int:
        return self.reads[-1].batch_found if self.reads else 0

    @property
    def units(self) -> dict[str, float]:
        return self.reads[-1].units if self.reads else {}


@dataclass
class MetricsResults:
    days: tuple[str, ...] = DAYS
    runs: list[MetricsRun] = field(default_factory=list)


def run_metrics(stack: Any, progress: Callable[[str], None], sizes: tuple[int, ...] = SIZES) -> MetricsResults:
    results = MetricsResults()
    recorded = min(sizes)
    for customers in sizes:
        results.runs.append(_one(stack, customers, recorded, progress))
    return results


def _one(stack: Any, customers: int, recorded: int, progress: Callable[[str], None]) -> MetricsRun:
    from bench.meter import count_all_calls
    from bench.metrics_facts import by_day, count, facts_of, funnel_of
    from chalicelib.domain.metrics.facts import fold

    tenant_id = f"mtrbench{customers}"
    run = MetricsRun(customers, min(recorded, customers))
    started = time.perf_counter()
    with quiet_stdout():
        token, cfg = _setup_tenant(stack, tenant_id)
    store = stack.services().store
    progress(f"metrics: {run.recorded:,} customers' facts through record_metric_fact for {customers:,} (not measured)")
    for fact in facts_of(range(run.recorded), cfg):
        if not store.record_metric_fact(tenant_id, fact):
            raise BenchError(f"a new fact was not counted: {fact.type}")
        run.facts_recorded += 1
    tally = [0]

    def tallied() -> Iterator[Any]:
        for fact in facts_of(range(customers), cfg):
            tally[0] += 1
            yield fact

    folded = fold(count(tallied()))
    if customers > run.recorded:
        progress(f"metrics: {customers:,} customers' facts folded in memory, day counters written (not measured)")
        run.facts_folded = tally[0]
        for day, counters in by_day(folded).items():
            store.replace_metric_counters(tenant_id, day, counters)
            run.counter_items += len(counters)
    _channel_days(stack, tenant_id, cfg, customers)
    run.expected = funnel_of(folded)
    run.seed_s = time.perf_counter() - started
    path = f"/t/{tenant_id}/metrics/funnel?from={DAYS[0]}&to={DAYS[-1]}&by=channel"
    for _ in range(WARMUP):
        with quiet_stdout():
            stack.call("GET", path, token=token)
    progress(f"metrics: {READS} funnel reads of {customers:,} customers")
    with count_all_calls() as audit:
        for _ in range(READS):
            stack.attach_meter()
            mark, t0 = stack.meter.mark(), time.perf_counter()
            with quiet_stdout():
                body = stack.call("GET", path, token=token)
            seconds = time.perf_counter() - t0
            records = stack.meter.since(mark)
            items: dict[str, int] = {}
            units: dict[str, float] = {}
            for rec in records:
                label = f"{rec.operation} `{rec.item}`"
                items[label] = items.get(label, 0) + 1
                units[label] = units.get(label, 0.0) + rec.capacity.billed_read
            batch = [rec for rec in records if rec.operation == "BatchGetItem"]
            found = sum(rec.items_returned for rec in batch)
            keys = sum(rec.keys_requested for rec in batch)
            read = MetricsRead(total_capacity(records), count_operations(records), items, seconds, units, keys, found)
            run.reads.append(read)
    run.unmetered = audit.get("dynamodb", 0) - sum(sum(r.ops.values()) for r in run.reads)
    run.funnel = {stage["key"]: int(stage["value"]) for stage in body["funnel"]}
    wanted = {"adds": customers, "trial": run.expected["trial"], "full": run.expected["full"]}
    if any(run.funnel.get(k) != v for k, v in wanted.items()) or run.expected["adds"] != customers:
        raise BenchError(f"the funnel of {customers} customers shows {run.funnel}, the facts fold to {run.expected}")
    return run


def _setup_tenant(stack: Any, tenant_id: str) -> tuple[str, Any]:
    """The tenant, its admin token, 20 staff, 10 channels (each a round robin over two staff) and two published
    plans of 3 steps with a 10% holdout through the API; 5 study groups in the store; returns the token and the
    facts' configuration."""
    from zoneinfo import ZoneInfo

    from bench.metrics_facts import Config
    from chalicelib.domain.groups import GroupState
    from chalicelib.domain.metrics.facts import step_id

    body = {"tenant_id": tenant_id, "name": "指标压测教育", "corp_id": MTR_CORP, "wecom": MTR_WECOM}
    stack.call("POST", "/admin/tenants", {**body, "timezone": SOP_ZONE}, ADMIN_TOKEN)
    token = str(stack.call("POST", f"/admin/tenants/{tenant_id}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"])
    staff = [f"mtrteacher{n:02d}" for n in range(STAFF)]
    for n, userid in enumerate(staff):
        stack.call("POST", f"/t/{tenant_id}/staff", {"userid": userid, "name": f"老师{n:02d}"}, token)
    channels = []
    for c in range(CHANNELS):
        doc: dict[str, Any] = {
            "name": f"渠道{c:02d}-考研直播间",
            "source": ("douyin", "xiaohongshu", "wechat_official")[c % 3],
            "campaign": f"2027考研秋季-{c % 2}",
            "staff": {"mode": "round_robin", "userids": [staff[c], staff[c + CHANNELS]]},
        }
        channels.append(str(stack.call("POST", f"/t/{tenant_id}/channels", doc, token)["channel_id"]))
    plans = []
    for p in range(PLANS):
        doc = plan_document(f"新客培育{p + 1}（指标压测）")
        doc.update(steps=doc["steps"][:STEPS], holdout_percent=10)
        plan = stack.call("POST", f"/t/{tenant_id}/plans", doc, token)
        stack.call("POST", f"/t/{tenant_id}/plans/{plan['plan_id']}/publish", None, token)
        plans.append((str(plan["plan_id"]), tuple(step_id(plan["plan_id"], 1, s["id"]) for s in doc["steps"])))
    store = stack.services().store
    for g in range(GROUPS):
        state = GroupState(name=f"考研数学冲刺·{g + 1}群", owner=staff[g], member_count=200)
        store.save_group_state(tenant_id, group_chat(tenant_id, g), state, expected_rev=0)
    cfg = Config(ZoneInfo(SOP_ZONE), DAYS, tuple(channels), tuple(staff), tuple(plans))
    return token, cfg


def _channel_days(stack: Any, tenant_id: str, cfg: Any, customers: int) -> None:
    """Each channel-day's exposure (uv) and spend, scaled with the customers, and each group-day's member count (the
    exposure through the store's effectively-once write, the spend through the metrics service)."""
    from chalicelib.domain.business_events import EXPOSURE
    from chalicelib.domain.facts import Fact
    from chalicelib.domain.instants import iso_of

    svc = stack.services()
    tenant = svc.tenants.get(tenant_id)
    share = customers / (len(cfg.channels) * len(cfg.days))  # customers per channel-day
    for day in cfg.days:
        noon = datetime.combine(date.fromisoformat(day), clock_time(12), tzinfo=cfg.zone)
        at = int(noon.timestamp())
        for channel_id in cfg.channels:
            digest = hashlib.sha256(f"exposure|{tenant_id}|{channel_id}|{day}".encode()).hexdigest()
            fact = Fact(tenant_id, "", at, digest, EXPOSURE, iso_of(noon, cfg.zone), channel_id=channel_id)
            uv = round(share * UV_PER_CUSTOMER)
            svc.store.record_exposure(tenant_id, fact, channel_id=channel_id, date=day, uv=uv)
            svc.metrics.set_spend(tenant, channel_id, day, round(share * SPEND_YUAN_PER_CUSTOMER, 2))
        for g in range(GROUPS):
            svc.store.set_group_members(tenant_id, group_chat(tenant_id, g), date=day, count=180 + g, at=at)


def group_chat(tenant_id: str, n: int) -> str:
    return f"wrmtr{tenant_id}{n}"
