"""Query parameters validated as bodies are: one JSON Schema per route, built from the parameters it declares
(``route(..., query={name: schema})``), which /openapi.json also publishes as that operation's parameters.

A query string carries only text, so a value is first read as the type its schema declares (``"50"`` → 50 for an
integer, ``"true"`` → True for a boolean); a value that does not read as that type stays text and the schema then
rejects it with a message naming the type, like an enum names its allowed values. ``format: date-time`` (and
``date``) is checked as the handlers parse it — an ISO-8601 date or date-time, an offset optional — so an empty or
impossible date is a 400 here, never a surprise later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import schemas
from chalicelib.domain.instants import parse_instant
from chalicelib.errors import InvalidError

QuerySchema = dict[str, dict[str, Any]]

_UTC = ZoneInfo("UTC")
_INTEGER = re.compile(r"[+-]?\d{1,4000}")  # Python reads up to 4300 digits; the schema's bounds judge the value
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _instant(value: object) -> bool:
    """What ``parse_instant`` reads."""
    if not isinstance(value, str):
        return True
    try:
        parse_instant(value, _UTC)
    except ValueError:
        return False
    return True


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _format_checker() -> Any:
    from jsonschema import FormatChecker  # imported on first validation: keeps cold start low

    checker = FormatChecker(formats=())
    checker.checks("date-time")(_instant)
    checker.checks("date")(_date)
    return checker


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    return set(declared) if isinstance(declared, list) else set()


def coerce(raw: Mapping[str, str], declared: QuerySchema) -> dict[str, Any]:
    """Each value read as its declared type where it reads as one; anything else is kept as text."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        types = _types(declared.get(name, {}))
        if types & {"integer", "number"} and _INTEGER.fullmatch(value):
            out[name] = int(value)
        elif "boolean" in types and value.lower() in _BOOLEANS:
            out[name] = _BOOLEANS[value.lower()]
        else:
            out[name] = value
    return out


def query_validator(declared: QuerySchema, *, strict: bool = True) -> Callable[[Mapping[str, str]], dict[str, Any]]:
    """A function that returns a request's query, typed, or raises InvalidError naming every bad parameter.

    ``strict`` refuses parameters the route does not declare (a misspelt filter must not silently list everything);
    only callers we do not control (WeCom) are let through with extras."""
    compiled: list[Any] = []

    def validate(raw: Mapping[str, str]) -> dict[str, Any]:
        unknown = sorted(set(raw) - set(declared)) if strict else []
        if unknown:
            takes = ", ".join(sorted(declared)) or "none"
            raise InvalidError(
                f"unknown query parameter(s): {', '.join(unknown)} (this route takes: {takes})",
                details=[{"path": f"?{name}", "message": "is not a parameter of this route"} for name in unknown],
            )
        if not compiled:
            schema = {"type": "object", "properties": declared}
            compiled.append(schemas.strict_validator_class()(schema, format_checker=_format_checker()))
        values = coerce(raw, declared)
        errors = sorted(compiled[0].iter_errors(values), key=lambda e: list(e.absolute_path))
        if errors:
            details = [{"path": "?" + ".".join(str(p) for p in e.absolute_path), "message": e.message} for e in errors]
            summary = "; ".join(f"{d['path'][1:]}: {d['message']}" for d in details)
            raise InvalidError(f"invalid query parameter(s): {summary}", details=details)
        return values

    return validate
