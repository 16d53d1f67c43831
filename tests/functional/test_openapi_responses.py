"""/openapi.json states what each operation answers (issue 7 §10): its success status and media type, and each error
status it can give with the error shape — no ``4XX`` wildcard — so the fuzzer's status and schema checks bite."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.api.common import ROUTES
from tests.functional.conftest import TENANT, Api

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
HTML = {"text/html": {"schema": {"type": "string"}}}
PAGES = {"/t/{tenant_id}/dashboard"}  # server-rendered: a refused link and a bad parameter are HTML pages too


def _operations(api: Api) -> list[tuple[Any, dict[str, Any]]]:
    doc = api.call("GET", "/openapi.json").json
    return [(spec, doc["paths"][spec.path][spec.method.lower()]) for spec in ROUTES]


def test_every_operation_lists_its_success_and_its_error_statuses(api: Api) -> None:
    for spec, op in _operations(api):
        responses = op["responses"]
        assert not [code for code in responses if "X" in code], spec.path
        ok = responses[str(spec.status)]
        assert ("content" in ok) == (spec.status != 204), spec.path
        errors = {int(code) for code in responses if code.startswith(("4", "5"))}
        assert 400 in errors and 413 in errors and 415 in errors, spec.path
        if spec.auth in ("admin", "tenant", "wecom"):
            assert {401, 403} <= errors, spec.path
        if "{" in spec.path:
            assert 404 in errors, spec.path
        if spec.method != "GET":
            assert 409 in errors, spec.path
        if spec.auth == "public" and not spec.path.endswith("/events"):
            assert 401 not in errors, spec.path  # nothing to authenticate
        if spec.path in PAGES:
            assert ok["content"] == HTML and 403 in errors, spec.path
        for code in errors - ({503} if spec.path == "/health" else set()):
            expected = HTML if spec.path in PAGES and code in (400, 403) else ERROR
            assert responses[str(code)]["content"] == expected, (spec.path, code)


def test_the_answers_match_what_is_published(api: Api) -> None:
    token = api.create_tenant()
    ops = {(spec.method, spec.path): op for spec, op in _operations(api)}
    for method, path, url, tok in (
        ("GET", "/t/{tenant_id}/customers", f"/t/{TENANT}/customers", token),
        ("GET", "/t/{tenant_id}/customers", f"/t/{TENANT}/customers?limit=0", token),
        ("GET", "/t/{tenant_id}/customers", f"/t/{TENANT}/customers", "sy_other_x"),
        ("GET", "/t/{tenant_id}/plans/{plan_id}", f"/t/{TENANT}/plans/nope", token),
        ("GET", "/t/{tenant_id}/dashboard", f"/t/{TENANT}/dashboard?k=not-a-link", None),
    ):
        resp = api.call(method, url, token=tok)
        published = ops[(method, path)]["responses"][str(resp.status_code)]
        assert resp.headers["Content-Type"].startswith(next(iter(published["content"]))), resp.headers


def test_the_events_body_is_published_though_the_service_reads_it(api: Api) -> None:
    events = next(op for spec, op in _operations(api) if spec.path.endswith("/events"))
    refs = events["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert [r["$ref"].rsplit("/", 1)[1] for r in refs] == ["BusinessEvent", "BusinessEventBatch"]
    doc = api.call("GET", "/openapi.json").json
    assert '"#/$defs/' not in json.dumps(doc)  # a schema's own definitions would point at the document's root
    batch = doc["components"]["schemas"]["BusinessEventBatch"]["properties"]["events"]["items"]
    assert batch == {"$ref": "#/components/schemas/BusinessEvent"}
    for ref in doc["components"]["schemas"]["BusinessEvent"]["allOf"]:
        target = json.dumps(ref).split('"#/components/schemas/', 1)[1].split('"', 1)[0]
        assert target in doc["components"]["schemas"], target
