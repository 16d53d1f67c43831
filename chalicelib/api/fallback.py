"""Answers for requests no declared route takes, in the project's ``{"error": {"code", "message"}}`` shape:
404 for an unknown path, 405 with ``Allow`` for a known path's other methods, and Chalice's own error bodies
(415 for a content type a route does not read, its 405 and 500) rewritten. No answer repeats a header back.

Why routes and not only a middleware: Chalice's local server and its test client answer an unmatched path before
the app runs, with API Gateway's 403 "Missing Authentication Token" (which, given an Authorization header, echoes
the token). Their matcher compares paths segment by segment, trying concrete routes before ``{variable}`` ones, so
catch-all routes ``/{p1}``, ``/{p1}/{p2}`` … (up to MAX_DEPTH segments) take exactly the paths no real route
matches. Deployed, API Gateway also prefers literal segments; whatever falls through it (a deeper path) gets the
same shapes from the gateway responses in infra/resources.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib.api.common import error_response
from chalicelib.errors import (
    InvalidError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    SiyuError,
    UnsupportedMediaTypeError,
)
from chalicelib.observability import logger

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
ANY_TYPE = ["*/*"]
MAX_DEPTH = 10  # segments; the deepest real route has 5
# The console's pages and files get no 405 routes for the methods they lack: a browser sends them GET and POST only,
# and Chalice's own 405 for the rest is rewritten into the same shape, with its Allow header (``_translate``), by the
# middleware below, locally and deployed (the deployed API hands every method of a path to the function: infra/api.py).
HTML_PREFIXES = ("/console/", "/console-assets/")


def _no_route(**_: str) -> Response:
    return error_response(NotFoundError("no route matches this path"))


def _not_allowed(allow: str) -> Callable[..., Response]:
    def view(**_: str) -> Response:
        response = error_response(MethodNotAllowedError(f"this path takes {allow}"))
        response.headers["Allow"] = allow
        return response

    return view


def install(app: Chalice) -> None:
    """Register, after every real route: each known path's other methods (405) and the catch-alls (404)."""
    allowed: dict[str, str] = {}
    for index, (path, views) in enumerate(list(app.routes.items())):
        allowed[path] = ", ".join(sorted(views))
        if path.startswith(HTML_PREFIXES):
            continue  # pages: a browser sends only GET and POST; Chalice's own 405, rewritten (see HTML_PREFIXES)
        others = [method for method in METHODS if method not in views]
        view = _not_allowed(allowed[path])
        app.route(path, methods=others, content_types=ANY_TYPE, name=f"not_allowed_{index}")(view)
    app.route("/", methods=list(METHODS), content_types=ANY_TYPE, name="no_route_0")(_no_route)
    for depth in range(1, MAX_DEPTH + 1):
        path = "/" + "/".join(f"{{p{i}}}" for i in range(1, depth + 1))
        app.route(path, methods=list(METHODS), content_types=ANY_TYPE, name=f"no_route_{depth}")(_no_route)
    app.register_middleware(_error_shape(app, allowed), "http")


# Chalice's own error codes (its error_response and ChaliceViewError bodies) → ours.
_CHALICE_ERRORS: dict[int, type[SiyuError]] = {
    400: InvalidError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


def _error_shape(app: Chalice, allowed: dict[str, str]) -> Callable[[Any, Callable[[Any], Response]], Response]:
    """``allowed``: each real path's methods; Chalice's own 405 (a method no view is registered for, such as
    TRACE) would list the 405 views too."""

    def middleware(request: Any, get_response: Callable[[Any], Response]) -> Response:
        try:
            response = get_response(request)
        except Exception:
            logger.exception("unhandled error outside a route")
            return error_response(SiyuError("internal error"))
        body = response.body
        if not (isinstance(body, dict) and "Code" in body):
            return response
        return _translate(app, allowed, request, response)

    return middleware


def _translate(app: Chalice, allowed: dict[str, str], request: Any, response: Response) -> Response:
    """One of Chalice's ``{"Code", "Message"}`` bodies as ours; its message is not kept (it quotes headers)."""
    status = response.status_code
    resource = request.context.get("resourcePath", "")
    if status == 405 and resource not in allowed:
        status = 404  # an odd method on a path no route has is still an unknown path
    kind = _CHALICE_ERRORS.get(status)
    if kind is None:
        logger.error("chalice error", extra={"status": status})
        return error_response(SiyuError("internal error"))
    if kind is UnsupportedMediaTypeError:
        entry = app.routes.get(resource, {}).get(request.method)
        accepted = ", ".join(entry.content_types) if entry is not None else "application/json"
        error: SiyuError = UnsupportedMediaTypeError(f"send the body as {accepted}")
    elif kind is MethodNotAllowedError:
        answer = error_response(MethodNotAllowedError(f"this path takes {allowed[resource]}"))
        answer.headers["Allow"] = allowed[resource]
        return answer
    else:
        error = kind({400: "bad request", 404: "no route matches this path", 413: "request body is too large"}[status])
    return error_response(error)
