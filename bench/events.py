"""The business-events bench (issue 12 §5, for the cost model): what one `POST /t/{tenant}/events` costs.

Not measured: a tenant through the API (its events secret from the creation's answer), one staff member, and N
customers written straight through the store as intake leaves them (bench/sop.py's ``create_customers``).
Measured: per customer, one signed `order` event (a trial) through the app, then the same event again (a duplicate,
which changes nothing): the DynamoDB calls and billed units by botocore events, and the wall time of the request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.capacity import CallRecord, Capacity, count_operations, total_capacity
from bench.common import ADMIN_TOKEN, BenchError, fmt, quiet_stdout

EV_TENANT = "evbench"
EV_CORP = "wwevbench00000001"
EV_WECOM = {
    "token": "evBenchToken77",
    "encoding_aes_key": "E1v2E3n4T5s6B7e8N9c0H1a2B3c4D5e6F7g8H9i0J1k",
    "secret": "ev-bench-secret",
}
EV_OWNER = "evteacher"
WARMUP = 5


@dataclass(frozen=True)
class EventSample:
    capacity: Capacity
    ops: dict[str, int]
    seconds: float
    status: str


@dataclass
class EventsResults:
    n: int
    applied: list[EventSample] = field(default_factory=list)
    duplicates: list[EventSample] = field(default_factory=list)


def run_events(stack: Any, progress: Callable[[str], None], n: int) -> EventsResults:
    from bench.sop import create_customers

    created = stack.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": EV_TENANT, "name": "事件压测教育", "corp_id": EV_CORP, "wecom": EV_WECOM},
        ADMIN_TOKEN,
    )
    secret = str(created["events_secret"])
    token = stack.call("POST", f"/admin/tenants/{EV_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"]
    stack.call("POST", f"/t/{EV_TENANT}/staff", {"userid": EV_OWNER, "name": "事件老师"}, token)
    svc = stack.services()
    tenant = svc.tenants.get(EV_TENANT)
    progress(f"events: {n + WARMUP} customers written through the store (not measured)")
    # Ids the events API accepts (`^c[a-z0-9]{4,40}$`, as the app mints them): the SOP part's have an underscore.
    now = svc.clock.now()
    ids = create_customers(stack, tenant, [EV_OWNER], count=n + WARMUP, first=0, at=now, corp=EV_CORP, id_prefix="cev")
    results = EventsResults(n)
    progress(f"events: {n} trial orders and their duplicates through POST /t/{EV_TENANT}/events")
    for i, customer_id in enumerate(ids):
        body = json.dumps(
            {
                "event_id": f"evbench-order-{i:06d}",
                "type": "order",
                "customer_id": customer_id,
                "occurred_at": svc.clock.now().isoformat(),
                "kind": "trial",
                "amount": 9.9,
                "product": "考研政治体验课",
            },
            ensure_ascii=False,
        ).encode()
        first = _post(stack, secret, body, expect="applied")
        again = _post(stack, secret, body, expect="duplicate")
        if i >= WARMUP:
            results.applied.append(first)
            results.duplicates.append(again)
    return results


def _post(stack: Any, secret: str, body: bytes, *, expect: str) -> EventSample:
    from chalicelib.domain.business_events import sign  # what a sender computes (README, "Sending business events")

    ts = str(int(stack.services().clock.now().timestamp()))
    headers = {"Content-Type": "application/json", "X-Siyu-Timestamp": ts, "X-Siyu-Signature": sign(secret, ts, body)}
    stack.attach_meter()
    mark, t0 = stack.meter.mark(), time.perf_counter()
    with quiet_stdout():
        resp = stack.client.http.request("POST", f"/t/{EV_TENANT}/events", body=body, headers=headers)
    seconds = time.perf_counter() - t0
    records: list[CallRecord] = stack.meter.since(mark)
    if resp.status_code != 200:
        raise BenchError(f"POST /t/{EV_TENANT}/events answered {resp.status_code}: {resp.body[:300]!r}")
    status = json.loads(resp.body)["results"][0]["status"]
    if status != expect:
        raise BenchError(f"a business event answered {status!r}, expected {expect!r}")
    return EventSample(total_capacity(records), count_operations(records), seconds, status)


def _summary(samples: list[EventSample]) -> dict[str, Any]:
    ops: dict[str, float] = {}
    for s in samples:
        for name, k in s.ops.items():
            ops[name] = ops.get(name, 0) + k
    return {
        "n": len(samples),
        "billed_read": stats.mean([s.capacity.billed_read for s in samples]),
        "billed_write": stats.mean([s.capacity.billed_write for s in samples]),
        "p50_ms": stats.median([s.seconds * 1000 for s in samples]),
        "ddb_ops": {name: round(k / len(samples), 4) for name, k in sorted(ops.items())},
    }


def events_jsonable(results: EventsResults) -> dict[str, Any]:
    return {"applied": _summary(results.applied), "duplicate": _summary(results.duplicates)}


def events_summary_lines(results: EventsResults) -> list[str]:
    j = events_jsonable(results)
    return [
        f"business event (trial order): W {fmt(j['applied']['billed_write'])}, R {fmt(j['applied']['billed_read'])}, "
        f"p50 {fmt(j['applied']['p50_ms'])} ms; its duplicate: R {fmt(j['duplicate']['billed_read'])}"
    ]


def render_events(results: EventsResults, command: str) -> list[str]:
    j = events_jsonable(results)
    rows = [
        "## Business events: one signed order through POST /t/{tenant}/events",
        "",
        f"{results.n} customers written through the store (not measured), then per customer one `order` event "
        "(kind trial) signed with the tenant's events secret, and the same event again (answered `duplicate`). "
        f"Measured through the app as the other parts are. Command: `{command}` (`--events-only` runs just this).",
        "",
        "| delivery | n | billed WCU (mean) | billed RCU (mean) | DynamoDB calls (mean) | latency p50 (ms) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, key in (("trial order", "applied"), ("the same event again", "duplicate")):
        s = j[key]
        calls = ", ".join(f"{op} {fmt(k)}" for op, k in s["ddb_ops"].items()) or "none"
        units = f"{fmt(s['billed_write'])} | {fmt(s['billed_read'])}"
        rows.append(f"| {label} | {s['n']} | {units} | {calls} | {fmt(s['p50_ms'])} |")
    return [*rows, ""]
