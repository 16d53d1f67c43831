"""OpenAPI 3.1 built from the route registry and the very JSON Schemas that validate request bodies."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from chalicelib import schemas
from chalicelib.api.common import MAX_JSON_BYTES, ROUTES, RouteSpec, body_required

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
                "wx_code": {"type": "integer"},
            },
        }
    },
}


ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
# What each status means on every operation that can answer it.
REASONS = {
    400: "invalid request: body, query or a rule the schema cannot state",
    401: "missing or wrong credentials (token, events signature, callback signature)",
    403: "the credentials do not reach this tenant or role, or the API is disabled",
    404: "no such resource",
    409: "conflicts with the current state (or a concurrent write, or a reused Idempotency-Key)",
    413: f"body over {MAX_JSON_BYTES} bytes",
    415: "a content type this route does not read",
    502: "a dependency (DynamoDB, EventBridge Scheduler, WeCom) failed",
    503: "WeCom is busy or rate-limits this corp",
}


# Bodies a service reads itself, after a check no schema can state (a signature over the raw bytes): published with
# the schemas that service validates them against.
SELF_READ_BODIES = {("POST", "/t/{tenant_id}/events")}
# Server-rendered pages (api/dashboard.py): authenticated by a link in the query, answered as HTML, a refused link a
# 403 page and a bad parameter a 400 page (the size cap and Chalice's media check still answer the error JSON).
HTML_PAGES = {("GET", "/t/{tenant_id}/dashboard")}
HTML = {"text/html": {"schema": {"type": "string"}}}
# Opened by a dashboard link in the query (the page and the CSV exports it links to): a refused link is a 403.
LINK_OPENED = HTML_PAGES | {("GET", "/t/{tenant_id}/dashboard/export/{table}")}
# Tables as CSV files (UTF-8 with a byte-order mark), by token or by the dashboard's link.
CSV_EXPORTS = {("GET", "/t/{tenant_id}/metrics/export/{table}"), ("GET", "/t/{tenant_id}/dashboard/export/{table}")}
CSV = {"text/csv": {"schema": {"type": "string"}}}


def _events_body(components: dict[str, Any]) -> dict[str, Any]:
    """One BusinessEvent or a batch of them (the batch schema checks only the list; each item is an event)."""
    event, batch = _title("event"), _title("event_batch")
    components[event] = _hoisted(event, schemas.schema("event"), components)
    batch_schema = {k: v for k, v in schemas.schema("event_batch").items() if k != "$schema"}
    items = {**batch_schema["properties"]["events"], "items": {"$ref": f"#/components/schemas/{event}"}}
    components[batch] = {**batch_schema, "properties": {**batch_schema["properties"], "events": items}}
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in (event, batch)]
    return {"required": True, "content": {"application/json": {"schema": {"anyOf": refs}}}}


def _hoisted(title: str, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without ``$schema`` and with its own ``$defs`` moved to components (``<title>_<name>``): inside the
    document a ``#/$defs/…`` reference would point at the document's root."""
    defs = schema.get("$defs", {})

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return {**node, "$ref": f"#/components/schemas/{title}_{ref.removeprefix('#/$defs/')}"}
            return {k: moved(v) for k, v in node.items()}
        return [moved(v) for v in node] if isinstance(node, list) else node

    for name, definition in defs.items():
        components[f"{title}_{name}"] = moved(definition)
    return {k: moved(v) for k, v in schema.items() if k not in ("$schema", "$defs")}


def _errors(spec: RouteSpec) -> list[int]:
    """The error statuses ``spec`` can answer, each from the mechanism that produces it (see api/common.py)."""
    if spec.path == "/openapi.json":
        return [400, 413, 415]
    codes = {400, 413, 415, 502, 503}  # query and body checks, size cap, Chalice's media check; the store and WeCom
    if spec.auth in ("admin", "tenant", "wecom"):
        codes |= {401, 403}
    elif spec.path.endswith("/events"):
        codes.add(401)  # signed with the tenant's events secret
    elif (spec.method, spec.path) in LINK_OPENED:
        codes.add(403)  # opened by a link: a missing, wrong or expired one is refused
    if "{" in spec.path:
        codes.add(404)
    if spec.method != "GET":
        codes.add(409)
    return sorted(codes)


def _responses(spec: RouteSpec) -> dict[str, Any]:
    """The success answer (its status and media type; a JSON object unless said otherwise) and every error status."""
    if spec.status == 204:
        ok: dict[str, Any] = {"description": "done, no content"}
    elif (spec.method, spec.path) in HTML_PAGES:
        ok = {"description": "the page", "content": HTML}
    elif (spec.method, spec.path) in CSV_EXPORTS:
        ok = {"description": "the table as CSV (UTF-8 with a BOM)", "content": CSV}
    elif spec.auth == "wecom" and spec.method == "GET":
        ok = {"description": "the decrypted echostr", "content": {"text/plain": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "success", "content": JSON_OBJECT}
    out: dict[str, Any] = {str(spec.status): ok}
    for code in _errors(spec):
        page = (spec.method, spec.path) in HTML_PAGES and code in (400, 403)
        out[str(code)] = {"description": REASONS[code], "content": HTML if page else ERROR_REF}
    if spec.path == "/health":
        out["503"] = {"description": "a dependency is down (the same report)", "content": JSON_OBJECT}
    return out


def _title(name: str) -> str:
    return str(schemas.schema(name).get("title", name))


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": ERROR}
    for spec in ROUTES:
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", spec.path)
        ]
        params += [{"name": n, "in": "query", "required": False, "schema": s} for n, s in spec.query.items()]
        if spec.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 128},
                    "description": "retry-safe create: the first response is replayed for 24 h",
                }
            )
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_')}",
            "tags": [spec.tag] if spec.tag else [],
            "parameters": params,
            "responses": _responses(spec),
        }
        if spec.auth in ("admin", "tenant"):
            op["security"] = [{"bearer": []}]
            op["x-siyu-auth"] = spec.auth if spec.auth == "admin" else f"tenant:{spec.role.value if spec.role else ''}"
        if spec.body:
            title = _title(spec.body)
            body_schema = {k: v for k, v in schemas.schema(spec.body).items() if k != "$schema"}
            components[title] = body_schema
            op["requestBody"] = {
                "required": body_required(spec),
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{title}"}}},
            }
        if (spec.method, spec.path) in SELF_READ_BODIES:
            op["requestBody"] = _events_body(components)
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Siyu (私域) admin and webhook API",
            "version": "0.1.0",
            "description": "Private-domain customer operations for education on WeCom.",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
