"""A tenant's touch rules as configuration: the JSON document the settings API reads and writes, how it is kept on
the Tenant, and the check that the rules still let every content type out at some time. Pure: no clock, no AWS.

The document (chalicelib/schemas/touch_rules.schema.json)::

    {"quiet_hours": {"start": "22:00", "end": "08:00"} | null,
     "content_windows": {"interactive": {"start": "08:00", "end": "18:00"}, ...},
     "daily_caps": {"marketing": 1, ...},
     "monthly_receive_limit": 4 | null,
     "monthly_moment_cap": 4}

A field left out keeps the field's default (``TouchRules()``); ``null`` quiet hours means none, an empty
``content_windows`` means any time outside quiet hours, an empty ``daily_caps`` means no daily cap. The Tenant keeps
the document as canonical JSON text ("" = all defaults), so tenants stay hashable and ``rules_of`` parses each
distinct document once.
"""

from __future__ import annotations

import json
from datetime import date, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.plans import CONTENT_TYPES, TouchRules, Window
from chalicelib.domain.timing import local_instant, next_allowed

FIELDS = ("quiet_hours", "content_windows", "daily_caps", "monthly_receive_limit", "monthly_moment_cap")


def _window(raw: dict[str, Any]) -> Window:
    return Window(start=str(raw["start"]), end=str(raw["end"]))


def _window_json(window: Window) -> dict[str, str]:
    return {"start": window.start, "end": window.end}


def rules_from_json(doc: dict[str, Any]) -> TouchRules:
    """The rules a settings document describes (fields it leaves out keep their defaults). The document must
    already fit touch_rules.schema.json."""
    default = TouchRules()
    quiet = doc.get("quiet_hours", _window_json(default.quiet_hours) if default.quiet_hours else None)
    windows = doc.get("content_windows")
    caps = doc.get("daily_caps")
    return TouchRules(
        quiet_hours=_window(quiet) if quiet else None,
        content_windows=default.content_windows
        if windows is None
        else {kind: _window(w) for kind, w in sorted(windows.items())},
        daily_caps=default.daily_caps if caps is None else {kind: int(n) for kind, n in sorted(caps.items())},
        monthly_receive_limit=doc.get("monthly_receive_limit", default.monthly_receive_limit),
        monthly_moment_cap=int(doc.get("monthly_moment_cap") or default.monthly_moment_cap),
    )


def rules_to_json(rules: TouchRules) -> dict[str, Any]:
    """The complete settings document of ``rules`` (every field present, so a GET can be edited and PUT back)."""
    return {
        "quiet_hours": _window_json(rules.quiet_hours) if rules.quiet_hours else None,
        "content_windows": {kind: _window_json(w) for kind, w in sorted(rules.content_windows.items())},
        "daily_caps": dict(sorted(rules.daily_caps.items())),
        "monthly_receive_limit": rules.monthly_receive_limit,
        "monthly_moment_cap": rules.monthly_moment_cap,
    }


def rules_text(rules: TouchRules) -> str:
    """What the Tenant keeps: canonical JSON, or "" when the rules are exactly the defaults."""
    doc = rules_to_json(rules)
    if doc == rules_to_json(TouchRules()):
        return ""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=256)
def rules_from_text(text: str) -> TouchRules:
    """The rules a Tenant keeps ("" = the defaults). Cached per distinct document: the fire handler asks per touch.
    Callers must treat the result as read-only."""
    return rules_from_json(json.loads(text)) if text else TouchRules()


def rules_problems(rules: TouchRules, zone: ZoneInfo) -> list[dict[str, str]]:
    """Every content type the rules would never let out (``timing.next_allowed`` finds no allowed instant), each
    as ``{"path", "message"}`` naming the type: empty windows, or windows that lie wholly inside quiet hours."""
    probe = local_instant(date(2000, 1, 10), time(0, 0), zone)  # any instant will do: the rules repeat daily
    problems: list[dict[str, str]] = []
    for kind in CONTENT_TYPES:
        try:
            next_allowed(probe, kind, rules, zone)
        except ValueError as exc:
            path = f"/content_windows/{kind}" if kind in rules.content_windows else "/quiet_hours"
            problems.append({"path": path, "message": str(exc)})
    return problems
