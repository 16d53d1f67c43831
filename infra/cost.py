"""`python -m infra.cost` (`make cost`): the monthly AWS bill by service, from measured figures, as markdown tables.

    make cost ARGS="--customers 100000"                 the bill at docs/cost.md's per-customer assumptions
    make cost ARGS="--volumes month.json --region cn-north-1 --profile medium --egress nat-gateway"
    make cost ARGS="--scenarios"                        1k, 100k and 10M customers side by side
    make cost ARGS="--idle --customers 10000"           the bill of a month with no activity (storage, fixed items)
    make cost ARGS="--compare"                          idle and busy Siyu against an always-on 4-core/16 GB server

Volumes override the --customers defaults one by one (--touches 50000 ...). Figures: bench/figures.json (`make
bench`); prices: infra/prices.json; profiles: infra/profiles.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.cost_model import FIGURES, PRICES, PROFILES, Bill, Prices, Volumes, compute, load_json, server_month
from infra.target import EGRESS
from infra.target import PROFILES as PROFILE_NAMES

# Customers -> the profile a stack of that size runs (profiles.json's descriptions: small under 10k, medium to 500k).
SCENARIOS = {1_000: "small", 100_000: "medium", 10_000_000: "large"}
TARGET_PER_THOUSAND_USD = 0.10  # issue 12 §5: small profile, per 1,000 active customers a month
TARGET_CUSTOMERS = 10_000  # the small profile's upper size (profiles.json: under 10,000 customers)
VOLUME_FIELDS = [f.name for f in dataclasses.fields(Volumes)]


def money(amount: float | None, currency: str) -> str:
    if amount is None:
        return "unknown"
    symbol = {"USD": "$", "CNY": "¥"}.get(currency, currency + " ")
    return f"{symbol}{amount:,.4f}" if 0 < abs(amount) < 0.01 else f"{symbol}{amount:,.2f}"


def bill_table(bill: Bill) -> list[str]:
    rows = ["| service | item | quantity | monthly | note |", "| --- | --- | --- | --- | --- |"]
    for ln in bill.lines:
        if ln.amount is not None:
            amount = money(ln.amount, bill.currency)
        else:
            amount = "unmeasured" if ln.quantity == "unmeasured" else "unknown"
        rows.append(f"| {ln.service} | {ln.item} | {ln.quantity} | {amount} | {ln.note} |")
    missing = len(bill.missing())
    rows.append(
        f"| **total** |  |  | **{money(bill.total(), bill.currency)}** | "
        f"{missing} line(s) unmeasured or unknown, not included |"
    )
    rows.append(
        f"| total after always-free allowances |  |  | {money(bill.total(after_free=True), bill.currency)} | "
        "periodic-job requests, 10 alarms, 14 million Scheduler invocations, 25 GB of DynamoDB storage |"
    )
    return rows


def per_thousand(bill: Bill, volumes: Volumes, kind: str | None = "usage") -> float | None:
    """Cost per 1,000 active customers: of the lines that scale with the volumes (kind usage), or of all (None)."""
    total = bill.total(kind=kind)
    return None if total is None else total / max(volumes.active_customers, 1) * 1000


def scenarios_table(
    figures: dict[str, Any], prices: Prices, profiles: dict[str, Any], args: argparse.Namespace
) -> list[str]:
    head = "| | " + " | ".join(f"{n:,} customers" for n in SCENARIOS) + " |"
    rows = [head, "| --- |" + " --- |" * len(SCENARIOS)]
    bills = [
        (Volumes.for_customers(n), compute(figures, prices, p, profiles[p], args.egress, Volumes.for_customers(n)))
        for n, p in SCENARIOS.items()
    ]
    services = list(dict.fromkeys(ln.service for ln in bills[0][1].lines))
    for service in services:
        cells = []
        for _, bill in bills:
            lines = [ln for ln in bill.lines if ln.service == service]
            amounts = [ln.amount for ln in lines if ln.amount is not None]
            gaps = len(lines) - len(amounts)
            known = money(sum(amounts), bill.currency) if amounts else ""
            cells.append(" + ".join(filter(None, [known, f"{gaps} unmeasured/unknown" if gaps else ""])))
        rows.append(f"| {service} | " + " | ".join(cells) + " |")
    rows.append("| **total** | " + " | ".join(f"**{money(b.total(), b.currency)}**" for _, b in bills) + " |")
    rows.append(
        "| usage per 1,000 active customers | "
        + " | ".join(money(per_thousand(b, v), b.currency) for v, b in bills)
        + " |"
    )
    rows.append(
        "| all in, per 1,000 active customers | "
        + " | ".join(money(per_thousand(b, v, None), b.currency) for v, b in bills)
        + " |"
    )
    rows.append("| profile | " + " | ".join(b.profile for _, b in bills) + " |")
    rows.append("| tenants (institutions) | " + " | ".join(f"{v.tenants:,}" for v, _ in bills) + " |")
    return rows


def idle(volumes: Volumes) -> Volumes:
    """The same stored customers, no activity."""
    zero = {name: 0 for name in VOLUME_FIELDS if name not in ("active_customers", "tenants")}
    return dataclasses.replace(volumes, **zero)


def compare_table(
    figures: dict[str, Any], prices: Prices, profiles: dict[str, Any], args: argparse.Namespace
) -> list[str]:
    rows = ["| monthly | 1,000 customers | 10,000 customers | 100,000 customers |", "| --- | --- | --- | --- |"]
    for label, egress, busy in (
        ("Siyu idle, no fixed IP", "none", False),
        ("Siyu idle, NAT instance", "nat-instance", False),
        ("Siyu idle, NAT gateway", "nat-gateway", False),
        ("Siyu busy, no fixed IP", "none", True),
        ("Siyu busy, NAT instance", "nat-instance", True),
    ):
        cells = []
        for n in (1_000, 10_000, 100_000):
            v = Volumes.for_customers(n)
            bill = compute(figures, prices, args.profile, profiles[args.profile], egress, v if busy else idle(v))
            cells.append(money(bill.total(), bill.currency))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    server = money(server_month(prices), prices.currency)
    rows.append(
        f"| always-on SCRM server (m6i.xlarge, 4 vCPU / 16 GiB, MySQL + Redis on it) | {server} | {server} | {server} |"
    )
    return rows


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m infra.cost", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--profile", default="small", choices=PROFILE_NAMES)
    p.add_argument("--egress", default="none", choices=EGRESS)
    p.add_argument("--customers", type=int, default=TARGET_CUSTOMERS, help="active customers; sets every volume")
    p.add_argument("--volumes", type=Path, help="a JSON object of monthly volumes (the names below)")
    for name in VOLUME_FIELDS:
        if name != "active_customers":
            p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--scenarios", action="store_true", help="1k, 100k and 10M customers side by side (small, medium, large)"
    )
    mode.add_argument("--idle", action="store_true", help="no activity: what the stored customers cost")
    mode.add_argument("--compare", action="store_true", help="against an always-on 4-core / 16 GB server")
    p.add_argument("--figures", type=Path, default=FIGURES)
    p.add_argument("--prices", type=Path, default=PRICES)
    p.add_argument("--profiles", type=Path, default=PROFILES)
    return p.parse_args(argv)


def volumes_from(args: argparse.Namespace) -> Volumes:
    base = dataclasses.asdict(Volumes.for_customers(args.customers))
    if args.volumes:
        given = json.loads(args.volumes.read_text(encoding="utf-8"))
        unknown = set(given) - set(VOLUME_FIELDS)
        if unknown:
            raise ValueError(f"unknown volume(s) in {args.volumes}: {', '.join(sorted(unknown))}")
        base.update(given)
    base.update({k: getattr(args, k) for k in VOLUME_FIELDS if getattr(args, k, None) is not None})
    if any(int(v) < 0 for v in base.values()):
        raise ValueError("volumes must not be negative")
    return Volumes(**{k: int(v) for k, v in base.items()})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        figures, profiles = load_json(args.figures), load_json(args.profiles)
        prices = Prices(load_json(args.prices), args.region)
        volumes = volumes_from(args)
    except (OSError, KeyError, ValueError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    profile = "small, medium, large" if args.scenarios else args.profile
    print(f"<!-- {args.region}, profile {profile}, egress {args.egress}; figures of {figures['date']} -->")
    if args.scenarios:
        rows = scenarios_table(figures, prices, profiles, args)
    elif args.compare:
        rows = compare_table(figures, prices, profiles, args)
    else:
        v = idle(volumes) if args.idle else volumes
        bill = compute(figures, prices, args.profile, profiles[args.profile], args.egress, v)
        rows = bill_table(bill)
        rows.append("")
        rows.append("volumes: " + ", ".join(f"{k} {getattr(v, k):,}" for k in VOLUME_FIELDS))
        if not args.idle:
            rows.append(
                f"per 1,000 active customers: usage {money(per_thousand(bill, v), bill.currency)}, "
                f"all in {money(per_thousand(bill, v, None), bill.currency)}"
            )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
