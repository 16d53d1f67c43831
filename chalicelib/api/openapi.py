"""OpenAPI 3.1 built from the route registry and the very JSON Schemas that validate request bodies."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from chalicelib import schemas
from chalicelib.api.common import ROUTES, body_required

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
            "responses": {
                str(spec.status): {"description": "success"},
                "4XX": {
                    "description": "client error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
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
