"""The console's cookies: the session, the pre-session CSRF token of the sign-in form, and a one-time flash message.

Each is scoped to its tenant's console path (``Path=/console/<tenant>``), HttpOnly, SameSite=Lax (a sign-in's
OAuth return is a top-level GET from WeCom, which Lax lets through; no cross-site POST carries them), and Secure
outside the offline stages (the local stack serves plain http on loopback).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote, unquote

from chalicelib.settings import OFFLINE_STAGES, get_settings

SESSION = "siyu_session"
PRE_CSRF = "siyu_csrf"
FLASH = "siyu_flash"
MAX_COOKIE_CHARS = 4096


def read(request: Any) -> dict[str, str]:
    """The request's cookies (a malformed header reads as none)."""
    header = (request.headers or {}).get("cookie", "")
    if not header or len(header) > 4 * MAX_COOKIE_CHARS:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: unquote(morsel.value) for name, morsel in jar.items()}


def make(name: str, value: str, tenant_id: str, *, max_age: int | None = None) -> str:
    """A Set-Cookie value for this tenant's console."""
    parts = [f"{name}={quote(value, safe='')}", f"Path=/console/{tenant_id}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if get_settings().stage not in OFFLINE_STAGES:
        parts.append("Secure")
    return "; ".join(parts)


def clear(name: str, tenant_id: str) -> str:
    return make(name, "", tenant_id, max_age=0)
