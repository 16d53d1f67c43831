"""The shared input readers: I-JSON bodies (schemas.loads), integers that are ints, typed and validated queries,
and UTC keys for instants at the edge of datetime's range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib import schemas
from chalicelib.api.query import coerce, query_validator
from chalicelib.domain.instants import utc_key
from chalicelib.errors import InvalidError
from chalicelib.schemas.json_text import MAX_DEPTH, MAX_SAFE_INTEGER


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": 1e400}', "out of range"),
        (b'{"a": 9007199254740992}', "out of range"),
        (b'{"a": 1e-200}', "too close to zero"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
        (b"[" * 200_000 + b"]" * 200_000, "nested"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
    ],
)
def test_loads_refuses_what_is_not_i_json(raw: bytes, says: str) -> None:
    with pytest.raises(InvalidError) as exc:
        schemas.loads(raw)
    assert says in exc.value.message


def test_loads_keeps_ordinary_json() -> None:
    text = '{"a": [1, -2.5, 0, 0.0, "体验课 😀"], "b": {"c": null, "d": true}, "e": ' + f"{MAX_SAFE_INTEGER}}}"
    assert schemas.loads(text.encode()) == {
        "a": [1, -2.5, 0, 0.0, "体验课 😀"],
        "b": {"c": None, "d": True},
        "e": MAX_SAFE_INTEGER,
    }
    assert schemas.loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_integer_fields_refuse_floats_and_booleans() -> None:
    with pytest.raises(InvalidError) as exc:
        schemas.validate("task_snooze", {"minutes": 30.0})
    assert exc.value.details[0]["path"] == "/minutes"
    with pytest.raises(InvalidError):
        schemas.validate("task_snooze", {"minutes": True})
    assert schemas.validate("task_snooze", {"minutes": 30}) == {"minutes": 30}


DECLARED: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "dry_run": {"type": "boolean"},
    "status": {"enum": ["a", "b"]},
    "since": {"type": "string", "format": "date-time"},
}


def test_coerce_reads_declared_types_and_keeps_the_rest_as_text() -> None:
    raw = {"limit": "20", "dry_run": "TRUE", "status": "a", "since": "2026-12-01", "other": "7"}
    assert coerce(raw, DECLARED) == {"limit": 20, "dry_run": True, "status": "a", "since": "2026-12-01", "other": "7"}
    assert coerce({"limit": "2.0", "dry_run": "yes"}, DECLARED) == {"limit": "2.0", "dry_run": "yes"}


@pytest.mark.parametrize(
    "raw",
    [
        {"limit": "0"},
        {"limit": "1" * 40},
        {"limit": ""},
        {"dry_run": "maybe"},
        {"status": "c"},
        {"since": ""},
        {"since": "2026-02-30"},
        {"stauts": "a"},
    ],
)
def test_query_validator_refuses(raw: dict[str, str]) -> None:
    with pytest.raises(InvalidError) as exc:
        query_validator(DECLARED)(raw)
    assert exc.value.details and all(d["path"].startswith("?") for d in exc.value.details)


def test_query_validator_types_what_it_accepts_and_lenient_mode_lets_extras_through() -> None:
    check = query_validator(DECLARED)
    assert check({"limit": "5", "since": "2026-12-01T10:00:00+08:00"}) == {
        "limit": 5,
        "since": "2026-12-01T10:00:00+08:00",
    }
    assert query_validator(DECLARED, strict=False)({"echostr": "x"}) == {"echostr": "x"}


def test_utc_key_clamps_instants_without_a_utc_twin() -> None:
    assert utc_key(datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))) == "2026-12-01T02:00:00Z"
    assert utc_key(datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))) == "0001-01-01T00:00:00Z"
    assert utc_key(datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-8)))) == "9999-12-31T23:59:59Z"
    assert utc_key(datetime(300, 2, 28, tzinfo=UTC)) < utc_key(datetime(2026, 1, 1, tzinfo=UTC))
