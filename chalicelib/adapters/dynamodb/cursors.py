"""Opaque page cursors over DynamoDB keys, shared by every listing (one module, so every repository checks
them alike)."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.errors import InvalidError

MAX_QUERY_ROUNDS = 10  # a filtered listing reads at most this many Query pages per call, then hands back a cursor


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None,
    *,
    partition_attr: str,
    partition: str,
    attrs: frozenset[str] | None = None,
    code: str | None = None,
) -> dict[str, Any] | None:
    """A cursor is an opaque LastEvaluatedKey; it must belong to the partition being read (tenant isolation) and,
    with ``attrs``, name exactly those key attributes. ``code`` overrides the error code a listing promises."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ok = isinstance(key, dict) and key.get(partition_attr, {}).get("S") == partition
        ok = ok and (attrs is None or set(key) == attrs)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidError("cursor is not valid", code=code) from exc
    if not ok:
        raise InvalidError("cursor is not valid", code=code)
    return key
