"""Request bodies read as I-JSON (RFC 7493): the JSON every part of Siyu — keys, hashes, DynamoDB, the facts we
write back out — can hold. Python's ``json`` accepts more: ``NaN`` and ``Infinity``, numbers no store can keep,
lone surrogates (``"\\ud800"``) that no UTF-8 encoder can write, and nesting deep enough to exhaust the stack.
Each of these is a 400 here, before anything is stored, rather than a 500 — or a stored fact that is not JSON —
later.
"""

from __future__ import annotations

import json
import math
from typing import Any

from chalicelib.errors import InvalidError

MAX_DEPTH = 16  # objects and arrays inside each other; DynamoDB holds 32 levels, our own bodies need < 10
MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON: every number is exactly representable by every reader
MIN_MAGNITUDE = 1e-100  # DynamoDB numbers stop at 1e-130


def _number(text: str) -> float | int:
    value: float | int = int(text) if text.lstrip("-").isdigit() else float(text)
    if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
        raise InvalidError(f"number {text[:32]} is out of range (at most {MAX_SAFE_INTEGER} either side of zero)")
    if value and abs(value) < MIN_MAGNITUDE:
        raise InvalidError(f"number {text[:32]} is too close to zero")
    return value


def _constant(name: str) -> Any:
    raise InvalidError(f"{name} is not a JSON number")


def _check(node: Any) -> None:
    """Depth and text of the parsed document, iteratively (the parser already survived the nesting)."""
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _text(value)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise InvalidError(f"request body is nested more than {MAX_DEPTH} levels deep")
            if isinstance(value, dict):
                for key, item in value.items():
                    _text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def _text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidError("request body holds a string that is not valid Unicode (a lone surrogate)") from exc


def loads(raw: bytes | str) -> Any:
    """The parsed body, or InvalidError saying what about it is not I-JSON."""
    try:
        document = json.loads(raw, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except RecursionError as exc:
        raise InvalidError(f"request body is nested more than {MAX_DEPTH} levels deep") from exc
    except InvalidError:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidError("request body is not valid JSON") from exc
    _check(document)
    return document
