"""`make demo-week`'s driver (devstack.demo_week) for two small days against the stack in process: the app through
chalice's test client, the WeCom sandbox on loopback (its callbacks and group messages delivered into that client),
and the sandbox's clock moved by the pump's time machine. The funnel it reads back must be non-empty and agree with
what the driver did: new customers are the scans that created customers, and a retried order counts once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest

from chalicelib.domain.business_events import sign
from chalicelib.settings import Settings
from devstack import jobs
from devstack.demo_setup import Answer
from devstack.demo_week import HttpEndpoint, dashboard_link, run_week
from devstack.local_pump import start_pump
from devstack.sandbox_callbacks import Delivery
from devstack.timewarp import ClockControl
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.group_sandbox import group_sandbox

GROUP = "siyu-functional"


class ClientEndpoint:
    """The app's API as an Endpoint, through chalice's test client."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        resp = self.api.call(method, path, body, token, dict(headers or {}))
        return Answer(resp.status_code, resp.json if resp.json is not None else resp.body.decode())


@pytest.fixture
def stack(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Api, str, str]]:
    """The tenant (two staff), its corp in the sandbox, and the sandbox's clock on a pump: (api, token, secret)."""
    created = api.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "timezone": "Asia/Shanghai", "wecom": WECOM},
        ADMIN,
    )
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    group_sandbox(api, monkeypatch).register()

    def post_business_event(tenant_id: str, secret: str, event: dict[str, Any], timestamp: int) -> Delivery:
        raw = json.dumps(event, ensure_ascii=False).encode()
        stamp = str(timestamp)
        headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
        resp = api.call("POST", f"/t/{tenant_id}/events", raw, headers=headers)
        return Delivery(resp.status_code, resp.body.decode())

    monkeypatch.setattr(api.sandbox, "post_business_event", post_business_event)
    with contextlib.ExitStack() as exits:
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        walker = start_pump(
            Settings(schedule_group=GROUP),
            scheduler,
            exits,
            jobs.Handlers(),
            clock=api.clock,
            log=lambda _: None,
            interval=3600,  # no tick of its own: only the driver's clock moves walk
        )
        api.sandbox.clock = ClockControl(walker, api.clock, stage="local", timezone="Asia/Shanghai")
        exits.callback(setattr, api.sandbox, "clock", None)
        yield api, token, created.json["events_secret"]


def test_two_small_days_give_a_funnel_that_matches_what_the_driver_did(stack: tuple[Api, str, str]) -> None:
    api, token, secret = stack
    endpoint, lines = ClientEndpoint(api), list[str]()
    week, setup, summary = run_week(
        endpoint,
        HttpEndpoint(api.sandbox.base_url, timeout=120),
        tenant_id=TENANT,
        corp_id=CORP,
        token=token,
        events_secret=secret,
        days=2,
        seed=5,
        scans=(4, 6),
        log=lines.append,
    )
    print("\n".join([*lines, summary.line]))  # shown with -s: what `make demo-week` prints
    t = week.totals
    assert [line.split(":")[0] for line in lines if line.startswith("day ")] == [
        "day 1/2 2026-12-02",
        "day 2/2 2026-12-03",
    ]
    assert not summary.empty and "new customers" in summary.line
    f = summary.funnel
    created = len(week.customers)
    assert t["new"] == created > 0 and t["scans"] == created + t["readds"]  # a lost parent's re-scan is a re-add
    assert f["headlines"]["new"] == created  # the scans that created customers, each once
    assert {s["key"]: s["value"] for s in f["funnel"]}["adds"] == created
    channels = f["tables"]["channels"]
    assert sum(r["new"] for r in channels) == created
    assert sum(r["exposures"] for r in channels) == t["uv"]
    assert sum(r["spend"] for r in channels) == t["spend"] * 100  # the API's money is in fen
    assert f["headlines"]["cac"] == pytest.approx(t["spend"] * 100 / created)

    # Orders: each applied once, although every day's first ones were sent twice (the repeats answered duplicate).
    orders = t["trial_orders"] + t["full_orders"]
    assert orders > 0 and t["duplicates"] == t["retried"] > 0
    products = f["tables"]["products"]
    assert sum(r["orders"] for r in products) == orders
    revenue = sum(r["revenue"] for r in products)
    assert f["headlines"]["gmv"] == pytest.approx(revenue)
    assert revenue == t["revenue_fen"]
    assert f["headlines"]["roi"] == pytest.approx(revenue / (t["spend"] * 100))

    # The plan with its holdout: every new customer entered one arm; the step table shows the held-out customers'
    # skips (none of them left before their first step: the driver's losses are of earlier days' customers).
    [plan] = [r for r in f["tables"]["plans"] if r["plan_id"] == setup.plan_id]
    assert plan["enrolled"] + plan["holdout_enrolled"] == created
    holdout_skips = sum(r["holdout"] for r in f["tables"]["steps"] if r["plan"] and setup.plan_id in r["step"])
    assert holdout_skips >= plan["holdout_enrolled"]  # s1 (an hour after the scan) fell in the range for each
    staff = f["tables"]["staff"]
    assert sum(r["tasks_confirmed"] for r in staff) == t["confirmed"] > 0, (staff, t)  # so latencies exist
    assert any(r["latency_p50"] for r in staff)
    assert t["joins"] > 0 and t["checkins"] > 0

    link = dashboard_link(endpoint, "http://api", week)
    assert link.startswith("dashboard  http://api/t/") or "/metrics/funnel?from=2026-12-02&to=2026-12-03" in link
