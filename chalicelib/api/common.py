"""The shape every route shares: authenticate → parse → validate → one service call → JSON response.

Routes are declared through ``route`` so one registry feeds Chalice, the OpenAPI document and the table-driven
authorization test — a new route cannot skip any of them. The same declaration validates the query string
(``query={name: JSON Schema}``, see api/query.py) and the body (``body="<schema name>"``), after authentication:
an unauthenticated caller learns nothing about either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from chalicelib import schemas
from chalicelib.api.query import QuerySchema, query_validator
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role, Tenant, TokenRecord
from chalicelib.errors import InvalidError, NotFoundError, PayloadTooLargeError, SiyuError
from chalicelib.observability import logger
from chalicelib.services.tenants import check_admin

JSON_TYPES = ["application/json"]
MAX_JSON_BYTES = 256 * 1024
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_IDEMPOTENCY_KEY = 128


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    summary: str
    auth: str  # admin | tenant | wecom | public
    role: Role | None = None
    body: str | None = None
    query: QuerySchema = field(default_factory=dict)
    status: int = 200
    tag: str = ""
    idempotent: bool = False  # honours an Idempotency-Key header
    strict_query: bool = True  # undeclared query parameters are a 400


ROUTES: list[RouteSpec] = []

PAGINATION: QuerySchema = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "cursor": {
        "type": "string",
        "minLength": 1,
        "maxLength": 2048,
        "pattern": "^[A-Za-z0-9_-]+={0,2}$",
        "description": "next_cursor of the previous page",
    },
}


@dataclass
class Ctx:
    """What a handler gets: the request, the checked token (tenant routes), the validated body and the validated
    query (``args``: typed, e.g. ``limit`` is an int; ``query`` is the same parameters as the text sent)."""

    request: Any
    token: TokenRecord | None = None
    body: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    tenant_id: str | None = None
    load_tenant: Callable[[str], Tenant] | None = None
    _tenant: Tenant | None = None

    @property
    def tenant(self) -> Tenant:
        """The route's tenant, read once per request and only by routes that use it (404 if it does not exist)."""
        if self._tenant is None:
            if self.tenant_id is None or self.load_tenant is None:
                raise NotFoundError("this route has no tenant")
            self._tenant = self.load_tenant(self.tenant_id)
        return self._tenant

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params or {})

    def limit(self) -> int:
        raw = self.query.get("limit", str(DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise InvalidError(f"limit must be an integer from 1 to {MAX_LIMIT}")
        return int(raw)

    def cursor(self) -> str | None:
        return self.query.get("cursor") or None

    @property
    def staff_scope(self) -> str | None:
        """A staff token's own userid: staff see only their own customers."""
        if self.token is not None and self.token.role == Role.STAFF:
            return self.token.staff_userid
        return None

    @property
    def actor(self) -> str:
        if self.token is None:
            return "admin"
        return self.token.staff_userid or self.token.token_id


def json_response(body: Any, status: int = 200) -> Response:
    """JSON with Chinese kept readable (not \\u-escaped) — ops teams read these responses with curl."""
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def error_response(exc: SiyuError) -> Response:
    return json_response(exc.to_body(), exc.status)


def bearer(request: Any) -> str | None:
    header = (request.headers or {}).get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def body_required(spec: RouteSpec) -> bool:
    """A PUT replaces, so it needs a body; otherwise one is needed only if its schema requires something in it."""
    if spec.body is None:
        return False
    declared = schemas.schema(spec.body)
    return spec.method == "PUT" or bool(declared.get("required")) or declared.get("minProperties", 0) > 0


def parse_json(request: Any, *, required: bool = False) -> Any:
    """The body as I-JSON (schemas.loads); an empty body is ``{}`` unless the route requires one (then a 400: a
    PUT without a body must not reset what it replaces). A body of whitespace alone is sent, but no JSON text: 400."""
    raw = request.raw_body or b""
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLargeError(f"request body exceeds {MAX_JSON_BYTES} bytes")
    if not raw:
        if required:
            raise InvalidError("this request needs a JSON body")
        return {}
    return schemas.loads(raw)


def route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    auth: str,
    role: Role | None = None,
    body: str | None = None,
    query: QuerySchema | None = None,
    status: int = 200,
    tag: str = "",
    content_types: list[str] | None = None,
    idempotent: bool = False,
    strict_query: bool = True,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a route. ``query`` is every query parameter it takes, each with its JSON Schema (validated, typed
    into ``ctx.args`` and published); ``strict_query=False`` lets undeclared ones through (callers we don't control).
    JSON routes (no ``content_types``) refuse bodies over MAX_JSON_BYTES with a 413 before anything else."""
    spec = RouteSpec(method, path, summary, auth, role, body, query or {}, status, tag, idempotent, strict_query)
    ROUTES.append(spec)
    check_query = query_validator(spec.query, strict=strict_query)
    size_capped = content_types is None

    def decorator(fn: Callable[..., Any]) -> Any:
        def view(**raw_params: str) -> Any:
            # API Gateway (and chalice local) hand path parameters over still percent-encoded.
            params = {name: unquote(value) for name, value in raw_params.items()}
            request = bp.current_request
            try:
                ctx = Ctx(request, tenant_id=params.get("tenant_id"))
                if size_capped and len(request.raw_body or b"") > MAX_JSON_BYTES:
                    raise PayloadTooLargeError(f"request body exceeds {MAX_JSON_BYTES} bytes")
                svc = services()
                ctx.load_tenant = svc.tenants.get
                if auth == "admin":
                    check_admin(bearer(request), svc.admin_token.value())
                elif auth == "tenant":
                    ctx.token = svc.tenants.authenticate(params["tenant_id"], bearer(request), role or Role.VIEWER)
                ctx.args = check_query(ctx.query)
                if body is not None:
                    ctx.body = schemas.validate(body, parse_json(request, required=body_required(spec)))
                headers: Any = request.headers or {}
                key = headers.get("idempotency-key") if idempotent else None
                if key and svc.idempotency is not None:
                    if len(key) > MAX_IDEMPOTENCY_KEY:
                        raise InvalidError(f"Idempotency-Key is at most {MAX_IDEMPOTENCY_KEY} characters")
                    scope = f"{params.get('tenant_id', '')}#{method}#{path}"
                    result = svc.idempotency.run(
                        scope, key, ctx.body, lambda: fn(ctx, **params), getattr(bp, "lambda_context", None)
                    )
                else:
                    result = fn(ctx, **params)
                if auth in ("tenant", "admin") and "tenant_id" in params and not isinstance(result, Response):
                    result = svc.tenant_cache.localize(params["tenant_id"], result)  # every instant in its zone
            except SiyuError as exc:
                if exc.status >= 500:
                    logger.error("request failed", extra={"code": exc.code, "route": path})
                else:
                    logger.warning("request rejected", extra={"code": exc.code, "status": exc.status, "route": path})
                return error_response(exc)
            except Exception:
                logger.exception("unhandled error", extra={"route": path})
                return error_response(SiyuError("internal error"))
            if isinstance(result, Response):
                return result
            if status == 204:
                return Response(body="", status_code=204)
            return json_response(result, status)

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        bp.route(path, methods=[method], content_types=content_types or JSON_TYPES)(view)
        return fn

    return decorator
