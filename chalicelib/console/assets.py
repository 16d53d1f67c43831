"""The console's own static files (CSS, JS, icons) from console/static, at ``/console-assets/<name>``.

Served by the app itself, so nothing comes from a CDN. Only files named in ``FILES`` at import are served: a name
is never joined to a path.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from chalice import Blueprint, Response

bp = Blueprint(__name__)

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


@cache
def _files() -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("chalicelib.console").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in TYPES:
            found[entry.name] = (entry.read_bytes(), TYPES[suffix])
    return found


@bp.route("/console-assets/{name}", methods=["GET"], name="console_asset")
def asset(name: str) -> Response:
    hit = _files().get(name)
    if hit is None:
        return Response(
            body='{"error":{"code":"not_found","message":"no such file"}}',
            status_code=404,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    data, content_type = hit
    return Response(
        body=data.decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )
