"""Plans over HTTP: create → publish → edit (v2) → old version readable → pause/resume/archive; sheet imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.functional.conftest import TENANT, Api

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLANS = f"/t/{TENANT}/plans"


def _plan(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "新客7天培育",
        "trigger": {"type": "manual"},
        "audience": {"tags_none": [], "stages": ["new"]},
        "steps": [
            {"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "同学你好～"}},
            {
                "id": "s2",
                "day": 1,
                "at": "20:00",
                "content_type": "marketing",
                "message": {"text": "9.9元体验", "attachments": []},
                "executor": "owner",
                "lateness": {"max_minutes": 60, "then": "next_slot"},
            },
        ],
        "exit": [{"type": "order", "kind": "trial"}],
        "reentry": "never",
        "priority": 10,
    }
    body.update(over)
    return body


def _import(api: Api, token: str, filename: str, content_type: str, query: str) -> Any:
    raw = (SAMPLES / filename).read_bytes()
    return api.call("POST", f"{PLANS}/import?{query}", raw, token, headers={"Content-Type": content_type})


def test_plan_lifecycle_and_versions(api: Api) -> None:
    token = api.create_tenant()
    viewer = api.token(TENANT, "viewer")
    created = api.call("POST", PLANS, _plan(), token)
    assert created.status_code == 201, created.body
    plan = created.json
    pid = plan["plan_id"]
    assert (plan["status"], plan["version"], plan["published_at"]) == ("draft", 1, None)
    assert plan["steps"][0]["executor"] == "owner" and plan["steps"][1]["at"] == "20:00"
    assert api.call("POST", PLANS, _plan(), viewer).status_code == 403  # viewers read only

    published = api.call("POST", f"{PLANS}/{pid}/publish", None, token)
    assert published.status_code == 200 and published.json["status"] == "published" and published.json["published_at"]

    steps = plan["steps"]
    steps[0]["message"]["text"] = "同学你好！第二版欢迎语"
    edited = api.call("PATCH", f"{PLANS}/{pid}", {"steps": steps, "version": 1}, token)
    assert edited.status_code == 200, edited.body
    assert (edited.json["version"], edited.json["current_version"], edited.json["status"]) == (2, 2, "published")
    stale = api.call("PATCH", f"{PLANS}/{pid}", {"name": "基于旧版本", "version": 1}, token)
    assert stale.status_code == 409

    v1 = api.call("GET", f"{PLANS}/{pid}?version=1", token=viewer)
    assert v1.status_code == 200 and v1.json["version"] == 1 and v1.json["current_version"] == 2
    assert v1.json["steps"][0]["message"]["text"] == "同学你好～"
    current = api.call("GET", f"{PLANS}/{pid}", token=viewer).json
    assert current["version"] == 2 and current["steps"][0]["message"]["text"] == "同学你好！第二版欢迎语"
    assert api.call("GET", f"{PLANS}/{pid}?version=9", token=viewer).status_code == 404
    assert api.call("GET", f"{PLANS}/{pid}?version=zero", token=viewer).status_code == 400
    versions = api.call("GET", f"{PLANS}/{pid}/versions", token=viewer).json["items"]
    assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]

    roundtrip = api.call("PATCH", f"{PLANS}/{pid}", current, token)  # GET's document can be sent back
    assert roundtrip.status_code == 200 and roundtrip.json["version"] == 2  # unchanged: no new version

    assert api.call("POST", f"{PLANS}/{pid}/pause", None, token).json["status"] == "paused"
    assert api.call("POST", f"{PLANS}/{pid}/publish", None, token).status_code == 409  # paused: resume it
    assert api.call("POST", f"{PLANS}/{pid}/resume", None, token).json["status"] == "published"
    assert api.call("POST", f"{PLANS}/{pid}/archive", None, token).json["status"] == "archived"
    assert api.call("POST", f"{PLANS}/{pid}/archive", None, token).status_code == 200  # repeating is harmless
    assert api.call("PATCH", f"{PLANS}/{pid}", {"name": "x"}, token).status_code == 409
    assert api.call("GET", f"{PLANS}/{pid}?version=1", token=viewer).json["status"] == "archived"


def test_validation_errors_list_everything(api: Api) -> None:
    token = api.create_tenant()
    shape = api.call(
        "POST",
        PLANS,
        _plan(trigger={"type": "channel"}, reentry="sometimes", steps=[{"id": "s1", "content_type": "x"}]),
        token,
    )
    assert shape.status_code == 400 and len(shape.json["error"]["details"]) >= 4
    body = _plan(silence={"days": 7, "then_plan_id": "pl_missing"})
    body["steps"][0]["executor"] = "ghost"
    body["steps"][1]["message"]["text"] = "好" * 1400
    body["steps"].append({"id": "s2", "day": 2, "at": "09:00", "content_type": "content", "message": {"text": "x"}})
    refs = api.call("POST", PLANS, body, token)
    assert refs.status_code == 400
    paths = {d["path"] for d in refs.json["error"]["details"]}
    assert paths == {"/steps/0/executor", "/steps/1/message/text", "/steps/2/id", "/silence/then_plan_id"}
    assert api.call("GET", f"{PLANS}/pl_missing", token=token).status_code == 404


def test_listing_by_status(api: Api) -> None:
    token = api.create_tenant()
    ids = [api.call("POST", PLANS, _plan(name=f"计划{i}"), token).json["plan_id"] for i in range(3)]
    api.call("POST", f"{PLANS}/{ids[0]}/publish", None, token)
    page = api.call("GET", f"{PLANS}?limit=2", token=token).json
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert set(page["items"][0]) >= {"plan_id", "name", "status", "version", "step_count", "trigger"}
    published = api.call("GET", f"{PLANS}?status=published", token=token).json["items"]
    assert [p["plan_id"] for p in published] == [ids[0]]
    assert api.call("GET", f"{PLANS}?status=live", token=token).status_code == 400


def test_import_the_sample_xlsx_and_csv(api: Api) -> None:
    token = api.create_tenant()
    name = quote("新客7天培育")
    xlsx = _import(api, token, "新客7天培育.xlsx", XLSX, f"name={name}&priority=10")
    assert xlsx.status_code == 201, xlsx.body
    assert xlsx.json["status"] == "draft" and xlsx.json["name"] == "新客7天培育" and xlsx.json["priority"] == 10
    assert xlsx.json["import"]["format"] == "xlsx" and xlsx.json["import"]["steps"] == len(xlsx.json["steps"]) == 15
    # Plan names are unique per tenant: the same name again is a 409 naming the plan, unless the import asks to be
    # a new version of it (a draft changes in place; the CSV is the same table, so nothing changes).
    taken = _import(api, token, "新客7天培育.csv", "text/csv; charset=utf-8", f"name={name}")
    assert taken.status_code == 409 and taken.json["error"]["code"] == "plan_name_taken"
    assert taken.json["error"]["details"]["plan_id"] == xlsx.json["plan_id"]
    query = f"name={name}&as_new_version_of={xlsx.json['plan_id']}"
    csv = _import(api, token, "新客7天培育.csv", "text/csv; charset=utf-8", query)
    assert csv.status_code == 201, csv.body
    assert csv.json["steps"] == xlsx.json["steps"]
    assert (csv.json["plan_id"], csv.json["version"]) == (xlsx.json["plan_id"], 1)
    assert csv.json["import"]["as_new_version_of"] == xlsx.json["plan_id"]
    duplicate = api.call("POST", PLANS, _plan(name="新客7天培育"), token)
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "plan_name_taken"
    other = api.call("POST", PLANS, _plan(name="另一个计划"), token)
    assert other.status_code == 201, other.body
    rename = api.call("PATCH", f"{PLANS}/{other.json['plan_id']}", {"name": "新客7天培育"}, token)
    assert rename.status_code == 409 and rename.json["error"]["details"]["plan_id"] == xlsx.json["plan_id"]
    stored = api.call("GET", f"{PLANS}/{xlsx.json['plan_id']}", token=token).json
    assert stored["steps"] == xlsx.json["steps"]
    published = api.call("POST", f"{PLANS}/{xlsx.json['plan_id']}/publish", None, token)
    assert published.status_code == 200


def test_import_errors(api: Api) -> None:
    token = api.create_tenant()
    bad = "天数,时间,内容类型,内容,执行人\n1,25:00,互动,x,\nabc,09:00,促销,,ghost\n".encode()
    resp = api.call("POST", f"{PLANS}/import?name=x", bad, token, headers={"Content-Type": "text/csv"})
    assert resp.status_code == 400
    details = resp.json["error"]["details"]
    assert [(d["row"], d["column"]) for d in details] == [
        (2, "时间"),
        (3, "天数"),
        (3, "内容类型"),
        (3, "内容"),
        (3, "执行人"),
    ]
    assert api.call("GET", PLANS, token=token).json["items"] == []  # nothing half-imported
    big = api.call(
        "POST", f"{PLANS}/import?name=x", b"a" * (1024 * 1024 + 1), token, headers={"Content-Type": "text/csv"}
    )
    assert big.status_code == 413
    as_json = api.call("POST", f"{PLANS}/import?name=x", {"rows": []}, token)
    assert as_json.status_code == 415 and as_json.json["error"]["code"] == "unsupported_media_type"
    no_name = _import(api, token, "新客7天培育.csv", "text/csv", "")
    assert no_name.status_code == 400 and no_name.json["error"]["details"][0]["parameter"] == "name"


def test_openapi_publishes_the_plan_schema(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").json
    plan = doc["components"]["schemas"]["Plan"]
    assert len(plan["properties"]["steps"]["items"]["oneOf"]) == 2  # after_minutes, or day + at
    assert doc["paths"]["/t/{tenant_id}/plans/{plan_id}"]["patch"]["x-siyu-auth"] == "tenant:ops"
    assert {"publish", "pause", "resume", "archive"} <= {p.rsplit("/", 1)[1] for p in doc["paths"] if "{plan_id}/" in p}
