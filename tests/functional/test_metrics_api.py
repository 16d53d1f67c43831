"""The metrics API through the real app (chalice.test.Client, moto DynamoDB, the WeCom sandbox): a scan, an exposure,
an order and a day's spend become the funnel, the channel row with CAC and ROI, and the same numbers in the CSV
export; bad input is a clear 4xx that stores nothing; the rebuild recomputes what was counted; roles and tenants."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

M = f"/t/{TENANT}/metrics"


def _setup(api: Api) -> tuple[str, str, str, list[str]]:
    created = api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    body = {"name": "抖音直播间", "source": "douyin", "campaign": "双12", "staff": {"userids": ["zhang"]}}
    channel = api.call("POST", f"/t/{TENANT}/channels", body, token).json
    customers = [api.scan(channel["state"])[1].json["customer_id"] for _ in range(2)]
    return token, created.json["events_secret"], channel["channel_id"], customers


def _post(api: Api, secret: str, events: list[dict[str, Any]]) -> Any:
    raw = json.dumps({"events": events}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200, resp.body
    return resp.json


def test_the_funnel_the_channel_row_and_the_csv_say_the_same(api: Api) -> None:
    token, secret, channel_id, (c1, _) = _setup(api)
    today = api.clock.iso()[:10]
    at = api.clock.iso(seconds_ago=30)
    events = [
        {"event_id": "x1", "type": "exposure", "channel_id": channel_id, "uv": 200, "occurred_at": at},
        {"event_id": "o1", "type": "order", "customer_id": c1, "kind": "full", "amount": 3980, "occurred_at": at},
    ]
    assert [r["status"] for r in _post(api, secret, events)["results"]] == ["applied", "applied"]
    assert _post(api, secret, events[1:])["results"][0]["status"] == "duplicate"  # a retried order counts once
    spend = api.call("PUT", f"/t/{TENANT}/channels/{channel_id}/spend/{today}", {"amount": 1000}, token)
    assert spend.status_code == 200, spend.body
    funnel = api.call("GET", f"{M}/funnel?from={today}&to={today}", token=token)
    assert funnel.status_code == 200, funnel.body
    view = funnel.json
    assert [(s["key"], s["value"]) for s in view["funnel"]] == [
        ("exposures", 200),
        ("adds", 2),
        ("trial", 0),
        ("full", 1),
    ]
    [row] = [r for r in view["tables"]["channels"] if r["channel_id"] == channel_id]
    assert (row["new"], row["add_rate"], row["cac"], row["revenue"], row["roi"]) == (2, 0.01, 50_000, 398_000, 3.98)
    assert view["headlines"]["gmv"] == 398_000 and view["headlines"]["conversion"] == 0.5
    csv = api.call("GET", f"{M}/export/channels.csv?from={today}&to={today}", token=token)
    assert csv.status_code == 200 and csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.body.startswith("\ufeff".encode())
    lines = csv.body.decode("utf-8-sig").splitlines()
    heads, cells = lines[0].split(","), next(line for line in lines if channel_id in line).split(",")
    assert cells[heads.index("获客成本(CAC)（元）")] == "500.00" and cells[heads.index("ROI")] == "3.9800"
    by_campaign = api.call("GET", f"{M}/funnel?from={today}&to={today}&by=campaign", token=token).json
    assert [r["campaign"] for r in by_campaign["tables"]["channels"]] == ["双12"]
    series = api.call("GET", f"{M}/series?metric=new&period=week", token=token)
    assert series.status_code == 200 and series.json["series"][0]["points"][-1]["value"] == 2
    rebuilt = api.call("POST", f"{M}/rebuild", {"from": today, "to": today}, token)
    assert rebuilt.status_code == 200 and rebuilt.json["facts"] >= 3
    assert api.call("GET", f"{M}/funnel?from={today}&to={today}", token=token).json["tables"] == view["tables"]


def test_bad_input_is_a_clear_4xx_and_stores_nothing(api: Api) -> None:
    token, _, channel_id, _ = _setup(api)
    today = api.clock.iso()[:10]
    cases = [
        ("GET", f"{M}/funnel?by=teacher", None, 400),
        ("GET", f"{M}/funnel?from=2026-01-01&to=2026-12-01", None, 400),  # over 92 days
        ("GET", f"{M}/funnel?from=2026-12-02&to=2026-12-01", None, 400),
        ("GET", f"{M}/funnel?from=yesterday", None, 400),
        ("GET", f"{M}/series?metric=nope", None, 400),
        ("GET", f"{M}/export/secrets.csv", None, 404),
        ("PUT", f"/t/{TENANT}/channels/{channel_id}/spend/{today}", {"amount": -1}, 400),
        ("PUT", f"/t/{TENANT}/channels/{channel_id}/spend/2026-13-40", {"amount": 1}, 400),
        ("PUT", f"/t/{TENANT}/channels/ch_nosuchchannel/spend/{today}", {"amount": 1}, 404),
        ("POST", f"{M}/rebuild", {"from": today}, 400),
        ("POST", f"{M}/rebuild", {"from": "2026-01-01", "to": "2026-12-01"}, 400),
    ]
    for method, path, body, status in cases:
        resp = api.call(method, path, body, token)
        assert resp.status_code == status, (path, resp.body)
        assert resp.json["error"]["code"] and resp.json["error"]["message"]
    view = api.call("GET", f"{M}/funnel", token=token).json
    assert all(r["spend"] == 0 for r in view["tables"]["channels"])


def test_roles_and_tenants(api: Api) -> None:
    _setup(api)
    viewer = api.token(TENANT, "viewer")
    assert api.call("GET", f"{M}/funnel", token=viewer).status_code == 200
    assert api.call("POST", f"{M}/rebuild", {"from": "2026-12-01", "to": "2026-12-01"}, viewer).status_code == 403
    other = api.create_tenant("beta", "wwbeta0000000001")
    assert api.call("GET", f"{M}/funnel", token=other).status_code == 403
    beta = api.call("GET", "/t/beta/metrics/funnel", token=other).json
    assert [s["value"] for s in beta["funnel"]] == [0, 0, 0, 0] and beta["tables"]["channels"] == []
