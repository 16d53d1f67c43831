"""The monthly AWS bill of one Siyu stack: measured figures (bench/figures.json) x volumes x prices (infra/prices.json).

Pure: no AWS, no clock. A line whose figure the bench does not measure, or whose price is unknown, has no amount and
says which; totals add only the lines that have one and count the others, so a partial bill never reads as whole.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "bench" / "figures.json"
PRICES = ROOT / "infra" / "prices.json"
PROFILES = ROOT / "infra" / "profiles.json"
HOURS = 730  # hours in a month, as AWS prices monthly
MINUTES = HOURS * 60
# app.py's fixed schedules; the backstop's rate comes from the profile.
PERIODIC_MINUTES = {"task_sync": 10, "silence": 15}
DLQ_ALARMS = 3  # the repair, schedule and fire DLQs: each has a depth alarm in every profile
EMF_METRICS = 10  # the metric names of the issue-12 contract, dimension service=siyu (reasons and errcodes add more)
NAT_INSTANCE_EBS_GB = 8

# Volume name -> the bench operation that one unit of it is.
OPERATIONS = {
    "customers_added": "new_customer",
    "duplicate_callbacks": "duplicate_callback",
    "enrollments": "enrollment",
    "touches": "touch",
    "buckets": "bucket",
    "group_touches": "group_touch",
    "member_joins": "member_join",
    "dashboard_reads": "dashboard_read",
    "api_reads": "api_read",
    "business_events": "business_event",
}


@dataclass(frozen=True)
class Volumes:
    """A month of one stack's activity (every tenant together)."""

    active_customers: int
    customers_added: int
    enrollments: int
    touches: int
    buckets: int
    business_events: int
    group_touches: int
    member_joins: int
    dashboard_reads: int
    api_reads: int
    duplicate_callbacks: int = 0
    tenants: int = 1

    @classmethod
    def for_customers(cls, active: int) -> Volumes:
        """The per-customer assumptions docs/cost.md states (an education institution's month), scaled to `active`."""
        tenants = max(1, math.ceil(active / 10_000))
        return cls(
            active_customers=active,
            customers_added=active // 5,  # a fifth of the base is new each month (term intake)
            enrollments=active // 5,  # each new customer enrolled in one plan
            touches=active * 8,  # two touches a week per active customer
            buckets=tenants * 150,  # 5 steps x 30 days of due minutes per tenant
            business_events=active,  # one trial, order or check-in per customer
            group_touches=math.ceil(active / 200) * 8,  # a study group per 200 customers, two touches a week
            member_joins=active // 10,
            dashboard_reads=tenants * 600,  # 20 staff x one dashboard view a day
            api_reads=active,  # one API read (leaderboard, lookup) per customer
            tenants=tenants,
        )


@dataclass
class Line:
    service: str
    item: str
    quantity: str
    amount: float | None  # None: unmeasured or unknown price
    note: str = ""
    # usage: scales with the volumes; idle: charged in a month with no activity too (storage, alarms, egress hours);
    # active: flat in any month with activity, whatever its size (custom metrics)
    kind: str = "usage"
    free: float = 0.0  # how much of `amount` an always-free allowance would cover


@dataclass
class Bill:
    region: str
    currency: str
    profile: str
    egress: str
    lines: list[Line] = field(default_factory=list)

    def total(self, *, kind: str | None = None, after_free: bool = False) -> float | None:
        """The sum of the lines that have an amount; None when none has (every price unknown)."""
        chosen = [ln for ln in self.lines if ln.amount is not None and (kind is None or ln.kind == kind)]
        if not chosen:
            return None
        return sum((ln.amount or 0.0) - (ln.free if after_free else 0.0) for ln in chosen)

    def missing(self) -> list[Line]:
        return [ln for ln in self.lines if ln.amount is None]


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Prices:
    def __init__(self, table: dict[str, Any], region: str) -> None:
        if region not in table:
            known = ", ".join(k for k in table if not k.startswith("_"))
            raise KeyError(f"no prices for region {region!r} in infra/prices.json (listed: {known})")
        self.currency: str = table[region]["currency"]
        self._prices: dict[str, Any] = table[region]["prices"]

    def get(self, name: str) -> float | None:
        price = self._prices[name]["price"]
        return None if price is None else float(price)

    def times(self, name: str, quantity: float | None) -> float | None:
        price = self.get(name)
        return None if price is None or quantity is None else price * quantity


def _usage(figures: dict[str, Any], volumes: Volumes, profile: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per volume: request units, Lambda requests and GB-seconds, API and Scheduler requests; None = unmeasured."""
    memory = profile["memory_mb"]
    ops = figures["operations"]
    out: dict[str, dict[str, float | None]] = {}
    for volume, op_name in OPERATIONS.items():
        n = float(getattr(volumes, volume))
        op = ops.get(op_name)
        if op is None:
            out[volume] = {"n": n, "rcu": None, "wcu": None, "requests": None, "gbs": None, "api": None, "sched": None}
            continue
        duration = op["duration_ms"]
        gb = memory.get(op["function"], 512) / 1024 if op["function"] else 0.0
        out[volume] = {
            "n": n,
            "rcu": n * op["billed_rcu"],
            "wcu": n * op["billed_wcu"],
            "requests": n * op["invocations"],
            "gbs": None if duration is None else n * duration / 1000 * gb,
            "api": n * op["api_requests"],
            "sched": n if op_name == "bucket" else 0.0,
        }
    return out


def _sum(usage: dict[str, dict[str, float | None]], key: str) -> tuple[float, list[str]]:
    """The measured total of one quantity, and the volumes (with a count) it could not include."""
    total, missing = 0.0, []
    for volume, u in usage.items():
        value = u[key]
        if value is None:
            if u["n"]:
                missing.append(volume)
        else:
            total += value
    return total, missing


def _note(missing: list[str]) -> str:
    return f"unmeasured: {', '.join(missing)}" if missing else ""


def _storage_gb(figures: dict[str, Any], volumes: Volumes) -> float:
    """Measured item sizes (+100 bytes of DynamoDB's per-item overhead): profiles, a month's enrollments and touches.
    A lower bound: index copies and the smaller item kinds are not counted."""
    sizes = figures["item_bytes"]
    total = volumes.active_customers * (sizes["customer profile"] + 100)
    total += volumes.enrollments * (sizes["enrollment"] + 100) + volumes.touches * (sizes["touch"] + 100)
    return total / 1e9


def compute(
    figures: dict[str, Any], prices: Prices, profile_name: str, profile: dict[str, Any], egress: str, volumes: Volumes
) -> Bill:
    bill = Bill(region="", currency=prices.currency, profile=profile_name, egress=egress)
    usage = _usage(figures, volumes, profile)
    add = bill.lines.append
    wcu, wmiss = _sum(usage, "wcu")
    rcu, rmiss = _sum(usage, "rcu")
    add(
        Line(
            "DynamoDB",
            "write request units",
            f"{wcu:,.0f}",
            prices.times("dynamodb_write_million", wcu / 1e6),
            _note(wmiss),
        )
    )
    add(
        Line(
            "DynamoDB",
            "read request units",
            f"{rcu:,.0f}",
            prices.times("dynamodb_read_million", rcu / 1e6),
            _note(rmiss),
        )
    )
    gb = _storage_gb(figures, volumes)
    storage = prices.times("dynamodb_storage_gb_month", gb)
    add(
        Line(
            "DynamoDB",
            "storage",
            f"{gb:,.3f} GB",
            storage,
            "lower bound (measured items only); 25 GB free",
            kind="idle",
            free=min(storage or 0.0, prices.times("dynamodb_storage_gb_month", min(gb, 25.0)) or 0.0),
        )
    )
    if profile["pitr"].get("main"):
        add(
            Line(
                "DynamoDB",
                "PITR (main table)",
                f"{gb:,.3f} GB",
                prices.times("dynamodb_pitr_gb_month", gb),
                kind="idle",
            )
        )
    requests, qmiss = _sum(usage, "requests")
    gbs, gmiss = _sum(usage, "gbs")
    add(
        Line(
            "Lambda",
            "requests",
            f"{requests:,.0f}",
            prices.times("lambda_request_million", requests / 1e6),
            _note(qmiss),
        )
    )
    add(
        Line(
            "Lambda",
            "duration",
            f"{gbs:,.0f} GB-s",
            prices.times("lambda_gb_second", gbs),
            _note(gmiss) + ("; " if gmiss else "") + "upper bound (DynamoDB Local latencies); init unmeasured",
        )
    )
    periodic = {"backstop": MINUTES / profile["backstop_rate_minutes"]}
    periodic.update({name: MINUTES / rate for name, rate in PERIODIC_MINUTES.items()})
    runs = sum(periodic.values())
    add(
        Line(
            "Lambda",
            "periodic jobs (backstop, task_sync, silence)",
            f"{runs:,.0f} runs",
            prices.times("lambda_request_million", runs / 1e6),
            "requests only: duration and reads per run unmeasured",
            kind="idle",
            free=prices.times("lambda_request_million", runs / 1e6) or 0.0,
        )
    )
    api, amiss = _sum(usage, "api")
    add(
        Line("API Gateway", "REST requests", f"{api:,.0f}", prices.times("apigw_rest_million", api / 1e6), _note(amiss))
    )
    sched, _ = _sum(usage, "sched")
    sched_cost = prices.times("scheduler_million", sched / 1e6)
    free_m = prices.get("scheduler_free_million")
    add(
        Line(
            "Scheduler",
            "invocations (one per bucket)",
            f"{sched:,.0f}",
            sched_cost,
            f"{free_m:g} million free a month" if free_m is not None else "free allowance unknown",
            free=sched_cost if sched_cost is not None and free_m is not None and sched <= free_m * 1e6 else 0.0,
        )
    )
    add(
        Line("SQS", "repair queue and DLQ requests", "unmeasured", None, "queued only when a callback runs out of time")
    )
    add(
        Line(
            "CloudWatch",
            "logs ingested and stored",
            "unmeasured",
            None,
            f"bytes per operation not benched; retention {profile['log_retention_days']} days",
        )
    )
    alarms = DLQ_ALARMS + len(profile["alarms"])
    alarm_cost = prices.times("alarm_month", alarms)
    add(
        Line(
            "CloudWatch",
            "alarms",
            f"{alarms}",
            alarm_cost,
            "10 free per account",
            kind="idle",
            free=prices.times("alarm_month", min(alarms, 10)) or 0.0,
        )
    )
    published = profile.get("published_metrics", "all")
    active = any(u["n"] for u in usage.values())
    if published == "all":
        metrics = EMF_METRICS if active else 0
        note = (
            "upper bound: billed only for the hours a metric is published (hours unmeasured); per-reason and "
            "per-errcode dimensions add more"
        )
    else:
        # Only the alarmed failure counts stay metrics, and they are published only in an hour something fails.
        metrics = 0
        note = (
            f"{len(published)} failure metrics, published only in an hour something fails; every other count is "
            "a log field"
        )
    add(
        Line(
            "CloudWatch",
            "EMF custom metrics",
            f"{metrics}+" if metrics else "0",
            prices.times("custom_metric_month", metrics),
            note if active else "nothing is published in a month with no activity",
            kind="active",
        )
    )
    add(
        Line(
            "SSM / KMS",
            "SecureString parameters",
            f"{1 + volumes.tenants}",
            prices.times("ssm_standard_parameter_month", 1 + volumes.tenants),
            "standard tier",
            kind="idle",
        )
    )
    add(Line("SSM / KMS", "GetParameter calls and KMS decrypts", "unmeasured", None, "cached per warm container"))
    if profile.get("tracing"):
        add(Line("X-Ray", "traces on the fire path", "unmeasured", None, "sampled traces; price not in prices.json"))
    bill.lines.extend(egress_lines(prices, egress))
    return bill


def egress_lines(prices: Prices, egress: str) -> list[Line]:
    """The fixed-IP egress option's lines (WeCom's trusted-IP rule, errcode 60020); data volume unmeasured."""
    if egress == "none":
        return []
    ip = Line("Egress", "Elastic IP (public IPv4)", f"{HOURS} h", prices.times("public_ipv4_hour", HOURS), kind="idle")
    if egress == "nat-gateway":
        return [
            Line("Egress", "NAT gateway", f"{HOURS} h", prices.times("nat_gateway_hour", HOURS), kind="idle"),
            ip,
            Line("Egress", "NAT gateway data processed", "unmeasured", None, "bytes per WeCom call not benched"),
        ]
    if egress == "nat-instance":
        return [
            Line(
                "Egress", "NAT instance (t4g.nano)", f"{HOURS} h", prices.times("nat_instance_hour", HOURS), kind="idle"
            ),
            Line(
                "Egress",
                "its EBS root volume (gp3)",
                f"{NAT_INSTANCE_EBS_GB} GB",
                prices.times("ebs_gp3_gb_month", NAT_INSTANCE_EBS_GB),
                kind="idle",
            ),
            ip,
            Line("Egress", "data out to the internet", "unmeasured", None, "100 GB free a month"),
        ]
    raise ValueError(f"unknown egress option {egress!r}")


def server_month(prices: Prices) -> float | None:
    """The always-on 4 vCPU / 16 GB SCRM server (anchors.md) with MySQL and Redis on it, for the comparison."""
    return prices.times("server_4c16g_hour", HOURS)
