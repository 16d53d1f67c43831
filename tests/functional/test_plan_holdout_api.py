"""A plan's holdout over HTTP (issue 11 §2): ``holdout_percent`` round-trips, is part of the version, is refused
out of range and on a group plan (400, nothing stored), comes in through a sheet import, and the simulator shows
the held-out customers."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.metrics.holdout import in_holdout
from tests.functional.conftest import TENANT, Api
from tests.functional.test_plans_api import PLANS, _import, _plan


def test_holdout_percent_round_trips_and_an_edit_is_a_new_version(api: Api) -> None:
    token = api.create_tenant()
    plain = api.call("POST", PLANS, _plan(name="无对照组"), token)
    assert plain.status_code == 201 and plain.json["holdout_percent"] == 0  # the default, shown
    created = api.call("POST", PLANS, _plan(holdout_percent=20), token)
    assert created.status_code == 201 and created.json["holdout_percent"] == 20, created.body
    pid = created.json["plan_id"]
    assert api.call("GET", f"{PLANS}/{pid}", token=token).json["holdout_percent"] == 20
    assert api.call("POST", f"{PLANS}/{pid}/publish", None, token).status_code == 200
    edited = api.call("PATCH", f"{PLANS}/{pid}", {"holdout_percent": 30, "version": 1}, token)
    assert edited.status_code == 200 and (edited.json["version"], edited.json["holdout_percent"]) == (2, 30)
    assert api.call("GET", f"{PLANS}/{pid}?version=1", token=token).json["holdout_percent"] == 20
    current = api.call("GET", f"{PLANS}/{pid}", token=token).json
    again = api.call("PATCH", f"{PLANS}/{pid}", current, token)  # GET's document sent back: no new version
    assert again.status_code == 200 and again.json["version"] == 2
    summary = api.call("GET", f"{PLANS}/{pid}/versions", token=token).json["items"]
    assert [v["version"] for v in summary] == [1, 2]


def test_a_bad_holdout_is_a_400_that_stores_nothing(api: Api) -> None:
    token = api.create_tenant()
    for bad in (51, -1, 10.0, "10", True, None):
        resp = api.call("POST", PLANS, _plan(holdout_percent=bad), token)
        assert resp.status_code == 400, (bad, resp.body)
        assert [d["path"] for d in resp.json["error"]["details"]] == ["/holdout_percent"], bad
    group = {
        "name": "社群计划",
        "kind": "group",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "day": -3, "at": "20:00", "content_type": "service", "message": {"text": "好"}}],
        "holdout_percent": 10,
    }
    refused = api.call("POST", PLANS, group, token)
    assert refused.status_code == 400
    [detail] = refused.json["error"]["details"]
    assert detail["path"] == "/holdout_percent" and "customer plans" in detail["message"]
    assert api.call("GET", PLANS, token=token).json["items"] == []
    zero = api.call("POST", PLANS, {**group, "holdout_percent": 0}, token)
    assert zero.status_code == 201 and "holdout_percent" not in zero.json  # a group plan has none to show
    patched = api.call("PATCH", f"{PLANS}/{zero.json['plan_id']}", {"holdout_percent": 5}, token)
    assert patched.status_code == 400 and patched.json["error"]["details"][0]["path"] == "/holdout_percent"


def test_a_sheet_import_takes_holdout_percent_as_a_parameter(api: Api) -> None:
    token = api.create_tenant()
    query = "name=%E6%96%B0%E5%AE%A2&holdout_percent=25"
    imported = _import(api, token, "新客7天培育.csv", "text/csv", query)
    assert imported.status_code == 201 and imported.json["holdout_percent"] == 25, imported.body
    for bad in ("abc", "60"):
        resp = _import(api, token, "新客7天培育.csv", "text/csv", f"name=x{bad}&holdout_percent={bad}")
        assert resp.status_code == 400
        assert [d["path"] for d in resp.json["error"]["details"]] == ["?holdout_percent"], resp.body
    assert [p["holdout_percent"] for p in api.call("GET", PLANS, token=token).json["items"]] == [25]


def test_the_simulator_shows_the_held_out_customers(api: Api) -> None:
    token = api.create_tenant()
    pid = api.call("POST", PLANS, _plan(holdout_percent=50), token).json["plan_id"]
    cohort: list[dict[str, Any]] = [{"id": f"c{i}", "joined_at": "2026-12-01T09:00:00+08:00"} for i in range(10)]
    resp = api.call("POST", f"{PLANS}/{pid}/simulate", {"days": 3, "cohort": cohort}, token)
    assert resp.status_code == 200, resp.body
    held = {c["id"] for c in cohort if in_holdout(TENANT, pid, c["id"], 50)}
    assert held and len(held) < len(cohort)
    for t in resp.json["touches"]:
        expected = ("skipped", "holdout") if t["customer"] in held else ("task", None)
        assert (t["outcome"], t["reason"]) == expected, t


def test_openapi_publishes_the_holdout_field(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").json
    field = doc["components"]["schemas"]["Plan"]["properties"]["holdout_percent"]
    assert (field["type"], field["minimum"], field["maximum"], field["default"]) == ("integer", 0, 50, 0)
