"""`make cost`: the bill from bench/figures.json, infra/prices.json and infra/profiles.json, and issue 12's targets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra import cost
from infra.cost_model import FIGURES, PRICES, PROFILES, Bill, Prices, Volumes, compute, load_json

FIG = load_json(FIGURES)
PROFILE_TABLE = load_json(PROFILES)
US = Prices(load_json(PRICES), "us-east-1")


def bill_for(
    customers: int, *, profile: str = "small", egress: str = "none", prices: Prices = US, busy: bool = True
) -> Bill:
    volumes = Volumes.for_customers(customers)
    return compute(FIG, prices, profile, PROFILE_TABLE[profile], egress, volumes if busy else cost.idle(volumes))


def test_small_profile_costs_under_ten_cents_per_thousand_active_customers() -> None:
    """Issue 12 §5's target, at the small profile's largest institution (10,000 customers), us-east-1 list prices,
    no free tier: the usage cost (every line that grows with the customers) per 1,000 active customers."""
    volumes = Volumes.for_customers(cost.TARGET_CUSTOMERS)
    bill = bill_for(cost.TARGET_CUSTOMERS)
    per_thousand = cost.per_thousand(bill, volumes)
    assert per_thousand is not None
    assert per_thousand < cost.TARGET_PER_THOUSAND_USD, cost.bill_table(bill)


def test_the_usage_lines_come_from_the_measured_figures() -> None:
    volumes = Volumes.for_customers(10_000)
    ops = FIG["operations"]
    writes = sum(
        getattr(volumes, volume) * ops[op]["billed_wcu"]
        for volume, op in (
            ("customers_added", "new_customer"),
            ("enrollments", "enrollment"),
            ("touches", "touch"),
            ("group_touches", "group_touch"),
            ("member_joins", "member_join"),
            ("dashboard_reads", "dashboard_read"),
            ("api_reads", "api_read"),
            ("business_events", "business_event"),
        )
    )
    line = next(ln for ln in bill_for(10_000).lines if ln.item == "write request units")
    assert line.amount == pytest.approx(writes / 1e6 * 0.625)
    assert line.note == ""  # every volume's operation is measured (one that is not is named here)


def test_an_unmeasured_operation_is_named_and_not_guessed() -> None:
    figures = {**FIG, "operations": {k: v for k, v in FIG["operations"].items() if k != "business_event"}}
    bill = compute(figures, US, "small", PROFILE_TABLE["small"], "none", Volumes.for_customers(10_000))
    line = next(ln for ln in bill.lines if ln.item == "write request units")
    assert line.note == "unmeasured: business_events"
    assert line.amount == pytest.approx(
        next(ln for ln in bill_for(10_000).lines if ln.item == line.item).amount
        - 10_000 * FIG["operations"]["business_event"]["billed_wcu"] / 1e6 * 0.625
    )


def test_idle_is_storage_only_apart_from_egress_after_the_always_free_allowances() -> None:
    for egress in ("none", "nat-gateway", "nat-instance"):
        bill = bill_for(100_000, egress=egress, busy=False)
        charged = {
            (ln.service, ln.item)
            for ln in bill.lines
            if ln.amount is not None and ln.amount - ln.free > 0 and ln.service != "Egress"
        }
        assert charged <= {("DynamoDB", "storage"), ("DynamoDB", "PITR (main table)")}, egress
        assert ("DynamoDB", "PITR (main table)") in charged  # storage itself is within the free 25 GB here
    emf = next(ln for ln in bill_for(100_000, busy=False).lines if ln.item == "EMF custom metrics")
    assert emf.amount == 0


def test_the_two_egress_options_cost_what_their_hours_cost() -> None:
    idle_none = bill_for(1_000, busy=False).total()
    gateway = bill_for(1_000, egress="nat-gateway", busy=False).total()
    instance = bill_for(1_000, egress="nat-instance", busy=False).total()
    assert idle_none is not None and gateway is not None and instance is not None
    assert gateway - idle_none == pytest.approx(730 * (0.045 + 0.005))
    assert instance - idle_none == pytest.approx(730 * (0.0042 + 0.005) + 8 * 0.08)


def test_an_unknown_price_is_printed_unknown_and_left_out_of_the_total() -> None:
    bill = bill_for(1_000, prices=Prices(load_json(PRICES), "cn-north-1"))
    assert bill.currency == "CNY"
    assert bill.total() is None
    rows = "\n".join(cost.bill_table(bill))
    assert re.search(r"^\| DynamoDB \| write request units \| [\d,]+ \| unknown \|", rows, re.MULTILINE)
    assert "**unknown**" in rows


def test_every_price_names_its_source_and_every_region_lists_the_same_items() -> None:
    table = load_json(PRICES)
    regions = [k for k in table if not k.startswith("_")]
    assert {"us-east-1", "cn-north-1"} <= set(regions)
    names = set(table["us-east-1"]["prices"])
    for region in regions:
        assert set(table[region]["prices"]) == names, region
        for name, p in table[region]["prices"].items():
            assert p["source"].startswith("https://") and p["unit"] and p["read"], (region, name)
            assert p["price"] is None or p["price"] >= 0


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cost.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_volumes_from_a_file_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    month: dict[str, Any] = {"active_customers": 500, "touches": 0, "buckets": 0}
    path = tmp_path / "month.json"
    path.write_text(json.dumps(month))
    code, out, _ = run(capsys, "--volumes", str(path), "--customers-added", "7")
    assert code == 0
    assert "active_customers 500, customers_added 7" in out
    assert "touches 0, buckets 0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--region", "eu-west-9"], "no prices for region 'eu-west-9'"),
        (["--touches", "-1"], "must not be negative"),
    ],
)
def test_bad_input_is_one_clear_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_the_printed_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--scenarios")
    assert code == 0
    assert "| profile | small | medium | large |" in out
    code, out, _ = run(capsys, "--compare")
    assert "| always-on SCRM server (m6i.xlarge, 4 vCPU / 16 GiB, MySQL + Redis on it) | $140.16 |" in out
