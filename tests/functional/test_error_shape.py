"""One error shape everywhere (issue 7 §4): unknown paths, wrong methods, oversize bodies, wrong content types and
invalid query parameters all answer ``{"error": {"code", "message"}}`` JSON, and nothing echoes a header back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.fallback import MAX_DEPTH
from tests.functional.conftest import ADMIN, TENANT, Api

SECRET = "sy_acme_do-not-echo-me-0123456789"


def _is_error(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.body
    assert resp.headers["Content-Type"].startswith("application/json")
    assert set(resp.json) == {"error"} and {"code", "message"} <= set(resp.json["error"]), resp.json
    assert resp.json["error"]["code"] == code, resp.json


def _echoes(resp: Any, *values: str) -> bool:
    text = resp.body.decode("utf-8", "replace") + " ".join(f"{k}: {v}" for k, v in resp.headers.items())
    return any(v in text for v in values)


@pytest.mark.parametrize(
    "path",
    ["/", "/nope", f"/t/{TENANT}/metrics", f"/t/{TENANT}/customers/c1/nothing/here", "/a" * MAX_DEPTH],
)
def test_unknown_paths_are_404_json_that_echoes_no_token(api: Api, path: str) -> None:
    api.create_tenant()
    for method in ("GET", "POST", "DELETE"):
        resp = api.call(method, path, token=SECRET, headers={"X-Api-Key": "key-" + SECRET})
        _is_error(resp, 404, "not_found")
        assert not _echoes(resp, SECRET), (method, path, resp.body)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/health", "GET"),
        ("PATCH", f"/t/{TENANT}/customers", "GET"),
        ("POST", f"/t/{TENANT}/settings/touch-rules", "GET, PUT"),
        ("PUT", f"/wecom/{TENANT}/callback", "GET, POST"),
        ("OPTIONS", "/admin/tenants", "GET, POST"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api: Api, method: str, path: str, allow: str) -> None:
    resp = api.call(method, path, token=SECRET)
    _is_error(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == allow
    assert not _echoes(resp, SECRET)


def test_an_oversize_body_is_413_and_stores_nothing(api: Api) -> None:
    token = api.create_tenant()
    big = b'{"userid": "zhang", "name": "' + b"x" * (300 * 1024) + b'"}'
    _is_error(api.call("POST", f"/t/{TENANT}/staff", big, token), 413, "payload_too_large")
    assert api.call("GET", f"/t/{TENANT}/staff", token=token).json["items"] == []
    unauthenticated = api.call("POST", f"/t/{TENANT}/staff", big)  # refused for its size before anything else
    _is_error(unauthenticated, 413, "payload_too_large")


def test_a_wrong_content_type_is_415_and_not_echoed(api: Api) -> None:
    token = api.create_tenant()
    odd = "text/x-" + SECRET
    resp = api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token, {"Content-Type": odd})
    _is_error(resp, 415, "unsupported_media_type")
    assert "application/json" in resp.json["error"]["message"] and not _echoes(resp, SECRET)
    assert api.call("GET", f"/t/{TENANT}/staff", token=token).json["items"] == []


def test_failed_authentication_echoes_no_credential(api: Api) -> None:
    api.create_tenant()
    for path, token in ((f"/t/{TENANT}/customers", SECRET), ("/admin/tenants", "admin-" + SECRET)):
        resp = api.call("GET", path, token=token)
        assert resp.status_code in (401, 403) and set(resp.json) == {"error"}
        assert not _echoes(resp, SECRET)


# --- query parameters are validated as bodies are ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("status=bogus", "'claimed', 'created', 'sent'"),  # names the allowed values
        ("status=null", "is not one of"),
        ("status=", "is not one of"),
        ("due_from=yesterday", "date-time"),
        ("due_to=", "date-time"),
        ("due_from=2026-13-01T00:00:00Z", "date-time"),
        ("limit=0", "minimum"),
        ("limit=101", "maximum"),
        ("limit=ten", "integer"),
        ("limit=1.0", "integer"),
        ("stauts=sent", "unknown query parameter"),  # a misspelt filter must not list everything
    ],
)
def test_tasks_query_is_validated(api: Api, query: str, mentions: str) -> None:
    token = api.create_tenant()
    resp = api.call("GET", f"/t/{TENANT}/tasks?{query}", token=token)
    _is_error(resp, 400, "invalid_request")
    assert mentions in resp.json["error"]["message"], resp.json


@pytest.mark.parametrize(
    "query",
    ["added_to=", "added_from=not-a-date", "stage=vip", "limit=", "cursor=", "cursor=%21%21%21", "owner=a&oops=1"],
)
def test_customer_query_is_validated(api: Api, query: str) -> None:
    token = api.create_tenant()
    _is_error(api.call("GET", f"/t/{TENANT}/customers?{query}", token=token), 400, "invalid_request")


def test_valid_queries_still_answer(api: Api) -> None:
    token = api.create_tenant()
    for path in (
        f"/t/{TENANT}/tasks?status=sent&limit=5&due_from=2026-11-01T00:00:00%2B08:00",
        f"/t/{TENANT}/tasks?due_from=0001-01-01T00:00:00%2B08:00&due_to=9999-12-31T23:59:59-08:00",  # no UTC twin
        f"/t/{TENANT}/customers?added_from=2026-11-01&added_to=2026-12-01T00:00:00Z&limit=100&stage=new",
        f"/t/{TENANT}/plans?status=draft",
        "/admin/tenants?limit=1",
    ):
        resp = api.call("GET", path, token=ADMIN if path.startswith("/admin") else token)
        assert resp.status_code == 200, (path, resp.body)


def test_a_route_without_parameters_refuses_any(api: Api) -> None:
    token = api.create_tenant()
    resp = api.call("GET", f"/t/{TENANT}/settings/touch-rules?debug=1", token=token)
    _is_error(resp, 400, "invalid_request")
    assert "takes: none" in resp.json["error"]["message"]


def test_query_is_checked_after_authentication(api: Api) -> None:
    """An unauthenticated caller learns nothing about the parameters."""
    api.create_tenant()
    assert api.call("GET", f"/t/{TENANT}/tasks?status=bogus").status_code == 401


def test_openapi_publishes_the_query_schemas(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").json
    params = {p["name"]: p for p in doc["paths"]["/t/{tenant_id}/tasks"]["get"]["parameters"] if p["in"] == "query"}
    assert params["status"]["schema"]["enum"][:3] == ["claimed", "created", "sent"]
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
    cursor = next(p for p in doc["paths"]["/t/{tenant_id}/customers"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["minLength"] == 1 and "pattern" in cursor["schema"]
    touch_rules = doc["paths"]["/t/{tenant_id}/settings/touch-rules"]["put"]["requestBody"]
    assert touch_rules["required"] is True  # a PUT replaces: a body is required


def test_chalice_local_answers_the_same(api: Api) -> None:
    """`chalice local` (make run) serves through Chalice's LocalDevServer, not the test client: same answers."""
    import http.client
    import threading

    from chalice.config import Config
    from chalice.local import LocalDevServer

    from app import app

    token = api.create_tenant()
    server = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server.server_address[1], timeout=30)
        for method, path, status, bearer in (
            ("GET", "/", 404, SECRET),
            ("GET", f"/t/{TENANT}/metrics", 404, SECRET),
            ("DELETE", "/health", 405, SECRET),
            ("GET", f"/t/{TENANT}/tasks?status=bogus", 400, token),
        ):
            conn.request(method, path, headers={"Authorization": f"Bearer {bearer}", "X-Secret": SECRET})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == status, (method, path, body)
            assert set(json.loads(body)) == {"error"} and SECRET.encode() not in body
            assert SECRET not in str(resp.getheaders())
            if status == 405:
                assert resp.getheader("Allow") == "GET"
    finally:
        server.shutdown()
        thread.join(timeout=10)
