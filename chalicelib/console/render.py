"""Rendering console pages: one Jinja2 environment (autoescaped, strict), the security headers, the error page.

Jinja2 is imported, and the environment built, on the first render only: ``import app`` (a cold start that answers
a callback) never pays for it. The CSP allows the console's own scripts and styles only (``/console-assets/``), plus
the script origins a page names (the chat sidebar's WeCom JS-SDK): nothing from a CDN, no inline script.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from chalice import Response

from chalicelib.console import nav

ASSETS = "/console-assets"
TITLES = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 413: "内容太大", 500: "出错了"}


def static(name: str) -> str:
    """The URL of a file in console/static (versioned by the package, cached by the browser for an hour)."""
    return f"{ASSETS}/{quote(name, safe='')}"


@cache
def _environment() -> Any:
    import jinja2  # here, not at the top: see the module's docstring

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("chalicelib.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the tests, not a user's page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static=static, nav_items=nav.items, zip=zip)
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return str(_environment().get_template(template).render(**context))


def headers(script_origins: Iterable[str] = ()) -> dict[str, str | list[str]]:
    scripts = " ".join(["'self'", *sorted({_origin(o) for o in script_origins if _origin(o)})])
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def html_response(
    template: str, context: dict[str, Any], status: int = 200, *, script_origins: Iterable[str] = ()
) -> Response:
    return Response(body=render(template, context), status_code=status, headers=headers(script_origins))


def render_error(status: int, message: str, *, title: str | None = None, base: str = "") -> Response:
    """The error page: what went wrong in a sentence, and the way back (the console's home or the sign-in)."""
    context = {
        "status": status,
        "title": title or TITLES.get(status, "出错了"),
        "message": message,
        "session": None,
        "base": base,
        "csrf": "",
        "flash": None,
    }
    body = render("error.html", context)
    return Response(body=body, status_code=status, headers=headers())
