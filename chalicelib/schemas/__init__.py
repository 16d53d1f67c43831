"""The JSON Schemas that validate requests — and, unchanged, the OpenAPI document's request bodies.

Each schema is loaded once with shared ``defs.schema.json`` references inlined, and compiled once on first use
(a prebuilt validator costs ~60 µs a call; recompiling per call would cost milliseconds).

``integer`` means a JSON integer as written: ``1.0`` is a number with a fraction part to every key builder and
format string downstream, so it is refused here (JSON Schema itself would accept it).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.errors import InvalidError
from chalicelib.schemas.json_text import loads

__all__ = ["loads", "names", "schema", "strict_validator_class", "validate"]

HERE = Path(__file__).parent
DEFS_REF = "defs.schema.json#/$defs/"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFS_REF):
            return _inline(defs[ref[len(DEFS_REF) :]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, defs) for value in node]
    return node


@cache
def schema(name: str) -> dict[str, Any]:
    """The named schema (file ``<name>.schema.json``) with shared definitions inlined."""
    defs = json.loads((HERE / "defs.schema.json").read_text(encoding="utf-8"))["$defs"]
    raw = json.loads((HERE / f"{name}.schema.json").read_text(encoding="utf-8"))
    return _inline(raw, defs)


def _is_integer(checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@cache
def strict_validator_class() -> Any:
    """Draft 2020-12 whose ``integer`` is an int as written (not ``1.0``)."""
    from jsonschema import Draft202012Validator, validators  # imported on first validation: keeps cold start low

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    return validators.extend(Draft202012Validator, type_checker=checker)


@cache
def _validator(name: str) -> Any:
    return strict_validator_class()(schema(name))


def validate(name: str, data: Any) -> dict[str, Any]:
    """Return ``data`` if valid; otherwise raise InvalidError listing every error with its JSON path."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details = [{"path": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message} for e in errors]
        raise InvalidError(f"request body is invalid ({len(details)} error(s))", details=details)
    return data


def names() -> list[str]:
    return sorted(
        p.name.removesuffix(".schema.json") for p in HERE.glob("*.schema.json") if p.name != "defs.schema.json"
    )
