"""Touch rules over HTTP: viewers read, ops write, the schema and the "every type can go out" check answer 400 with
every problem, and what is stored is what the engine applies (served through the tenant, published in OpenAPI)."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import TENANT, Api

RULES = f"/t/{TENANT}/settings/touch-rules"
DEFAULTS: dict[str, Any] = {
    "quiet_hours": {"start": "22:00", "end": "08:00"},
    "content_windows": {
        "interactive": {"start": "08:00", "end": "18:00"},
        "marketing": {"start": "18:00", "end": "22:00"},
    },
    "daily_caps": {"marketing": 1},
    "monthly_receive_limit": None,
    "monthly_moment_cap": 4,  # 朋友圈: the field's rule of thumb (docs/moments.md)
}


def test_touch_rules_read_write_and_roles(api: Api) -> None:
    admin = api.create_tenant()
    ops, viewer = api.token(TENANT, "ops"), api.token(TENANT, "viewer")
    got = api.call("GET", RULES, None, viewer)
    assert got.status_code == 200 and got.json == DEFAULTS
    late = {
        "quiet_hours": {"start": "23:00", "end": "07:00"},
        "content_windows": {"interactive": {"start": "07:00", "end": "23:00"}},
    }
    assert api.call("PUT", RULES, late, viewer).status_code == 403
    put = api.call(
        "PUT",
        RULES,
        {**late, "daily_caps": {"marketing": 2, "content": 3}, "monthly_receive_limit": 4, "monthly_moment_cap": 2},
        ops,
    )
    assert put.status_code == 200, put.body
    expected = {
        **late,
        "daily_caps": {"content": 3, "marketing": 2},
        "monthly_receive_limit": 4,
        "monthly_moment_cap": 2,
    }
    assert put.json == expected
    assert api.call("GET", RULES, None, viewer).json == expected
    # A GET can be edited and PUT back as it is.
    assert api.call("PUT", RULES, {**expected, "quiet_hours": None}, admin).json["quiet_hours"] is None
    assert api.call("PUT", RULES, {}, ops).json == DEFAULTS  # an empty document restores the defaults


def test_impossible_rules_get_400_naming_the_type(api: Api) -> None:
    api.create_tenant()
    ops = api.token(TENANT, "ops")
    resp = api.call(
        "PUT",
        RULES,
        {
            "quiet_hours": {"start": "20:00", "end": "08:00"},
            "content_windows": {"marketing": {"start": "20:30", "end": "21:30"}},
        },
        ops,
    )
    assert resp.status_code == 400, resp.body
    error = resp.json["error"]
    assert "marketing" in error["message"]
    assert [d["path"] for d in error["details"]] == ["/content_windows/marketing"]
    assert "20:00" in error["details"][0]["message"]
    bad = api.call(
        "PUT", RULES, {"quiet_hours": {"start": "25:00", "end": "07:00"}, "daily_caps": {"sms": 1}, "x": 1}, ops
    )
    assert bad.status_code == 400 and len(bad.json["error"]["details"]) == 3  # every schema error at once
    assert api.call("PUT", RULES, {"monthly_moment_cap": 0}, ops).status_code == 400
    assert api.call("GET", RULES, None, ops).json == DEFAULTS  # nothing was stored


def test_touch_rules_schema_is_published(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").json
    assert "put" in doc["paths"]["/t/{tenant_id}/settings/touch-rules"]
    schema = doc["components"]["schemas"]["TouchRules"]
    assert set(schema["properties"]) == {
        "quiet_hours",
        "content_windows",
        "daily_caps",
        "monthly_receive_limit",
        "monthly_moment_cap",
    }
