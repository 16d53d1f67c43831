"""What one DynamoDB call costs: capacity units as DynamoDB Local reports them and as AWS would bill them, from
botocore's parsed responses and request parameters, and what kind of item a call touches (by its key shape).

Two figures per call: what DynamoDB Local *reported*, and what AWS would *bill*. They differ where Local's
accounting is known to differ from AWS's; ``bench.meter.calibrate`` measures those differences on the running Local
instead of trusting a note, so the bench stays right when the Local build changes. Pure functions of dicts: the
meter (bench/meter.py) feeds them what its botocore hooks see, the unit tests feed them sample payloads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
TRANSACT_WRITE = "TransactWriteItems"
BATCH_GET = "BatchGetItem"
BATCH_WRITE = "BatchWriteItem"
MIN_READ_EVENTUAL = 0.5  # a read of a missing item still costs the minimum (AWS bills each BatchGetItem key)
MIN_READ_STRONG = 1.0
AWS_TRANSACT_WRITE_MULTIPLIER = 2.0  # AWS bills a transactional write at 2x a standard one
CAPACITY_PARAM = "ReturnConsumedCapacity"
CONDITIONAL_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
CONDITION_FAILED = "ConditionalCheckFailedException"
WRITE_UNIT_BYTES = 1024


@dataclass(frozen=True)
class Calibration:
    """How this DynamoDB Local's ConsumedCapacity relates to AWS billing.

    ``transact_write_factor`` multiplies Local's reported TransactWriteItems units to get AWS's: 2.0 if Local reports
    transactional writes like standard ones (what docs/reference said), 1.0 if it already reports the 2x. Only a
    fallback for a transaction whose request the meter did not see: Local's figure does not follow the items a
    transaction holds (``transact_many_units``), so the meter bills a transaction from its request
    (``transaction_write_units``).
    ``batch_get_misses_free``: Local reports 0 units for BatchGetItem keys that are not found, AWS bills the minimum.
    """

    transact_write_factor: float = AWS_TRANSACT_WRITE_MULTIPLIER
    batch_get_misses_free: bool = True
    failed_conditions_free: bool = True  # Local reports nothing for a write whose condition failed; AWS bills it
    put_units: float | None = None  # the raw observations, for the report
    transact_put_units: float | None = None
    transact_many_units: float | None = None  # seven one-unit Puts in one TransactWriteItems, as Local reported it
    batch_get_miss_units: float | None = None
    failed_put_units: float | None = None

    def describe(self) -> str:
        if self.put_units is None:
            return "not calibrated (assumed: Local reports transactions at 1x and BatchGetItem misses as free)"
        many, one = self.transact_many_units, self.transact_put_units or 0.0
        return (
            f"one 1-unit item: PutItem reported {self.put_units:g} WCU, the same Put inside TransactWriteItems "
            f"{self.transact_put_units:g} WCU, seven such Puts in one TransactWriteItems "
            f"{fmt_units(self.transact_many_units)} WCU -> Local's figure "
            + ("does not follow the items" if many is not None and many < 7 * one else "follows the items")
            + f" (a transaction whose request the meter did not see: reported x {self.transact_write_factor:g}); "
            f"BatchGetItem of 2 missing keys reported {self.batch_get_miss_units:g} RCU -> "
            + (
                "billed reads add the 0.5 RCU minimum per missing key"
                if self.batch_get_misses_free
                else "misses already charged"
            )
            + f"; a PutItem whose condition failed reported {fmt_units(self.failed_put_units)} WCU -> "
            + (
                "billed writes add what AWS charges for a failed conditional write"
                if self.failed_conditions_free
                else "failed conditional writes already charged"
            )
        )


def fmt_units(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


@dataclass(frozen=True)
class Capacity:
    """Capacity units of one or more calls: as DynamoDB Local reported them, and as AWS would bill them."""

    read: float = 0.0
    write: float = 0.0
    billed_read: float = 0.0
    billed_write: float = 0.0

    def __add__(self, other: Capacity) -> Capacity:
        return Capacity(
            self.read + other.read,
            self.write + other.write,
            self.billed_read + other.billed_read,
            self.billed_write + other.billed_write,
        )

    @property
    def billed_total(self) -> float:
        return self.billed_read + self.billed_write


def consumed_entries(consumed: Any) -> list[Mapping[str, Any]]:
    if consumed is None:
        return []
    if isinstance(consumed, Mapping):
        return [consumed]
    return [e for e in consumed if isinstance(e, Mapping)]


def entry_units(entry: Mapping[str, Any]) -> tuple[float | None, float | None, float]:
    """(read, write, total) of one ConsumedCapacity element.

    The top-level CapacityUnits already includes the table's GSIs/LSIs (mode TOTAL gives only that); the per-index
    breakdown (mode INDEXES) is summed only when the top-level figure is missing, so nothing is counted twice.
    """
    total = entry.get("CapacityUnits")
    if total is None:
        parts = [entry.get("Table") or {}]
        for group in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            parts.extend((entry.get(group) or {}).values())
        total = sum(float(p.get("CapacityUnits") or 0.0) for p in parts)
    read, write = entry.get("ReadCapacityUnits"), entry.get("WriteCapacityUnits")
    return (
        None if read is None else float(read),
        None if write is None else float(write),
        float(total),
    )


def batch_get_misses(parsed: Mapping[str, Any], requested: Mapping[str, tuple[int, bool]]) -> Capacity:
    """The minimum-read charge for BatchGetItem keys that were neither returned nor left unprocessed."""
    extra = 0.0
    responses = parsed.get("Responses") or {}
    unprocessed = parsed.get("UnprocessedKeys") or {}
    for table, (n_keys, consistent) in requested.items():
        returned = len(responses.get(table) or [])
        pending = len((unprocessed.get(table) or {}).get("Keys") or [])
        misses = max(0, n_keys - returned - pending)
        extra += misses * (MIN_READ_STRONG if consistent else MIN_READ_EVENTUAL)
    return Capacity(billed_read=extra)


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (Developer Guide, *Item sizes*): strings and binaries by
    length, numbers about one byte per two significant digits plus one, 3 bytes of overhead per list or map plus one
    per element, 1 byte for a boolean or null."""
    for kind, inner in value.items():
        if kind == "S":
            return len(str(inner).encode())
        if kind == "B":
            return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
        if kind == "N":
            digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
            return (len(digits) + 1) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS"):
            return sum(attribute_size({kind[0]: v}) for v in inner)
        if kind == "L":
            return 3 + sum(attribute_size(v) + 1 for v in inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values, in bytes."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def failed_write_units(item_bytes: int | None) -> float:
    """What AWS bills for a write whose condition failed: the write units of the item it tried to write (the
    Developer Guide, *Read and write operations*: the larger of the existing item and the new one; we know only the
    new one), at least 1. UpdateItem/DeleteItem: 1, a lower bound (exact for items of at most 1 KB)."""
    if not item_bytes:
        return 1.0
    return float(max(1, math.ceil(item_bytes / WRITE_UNIT_BYTES)))


def transaction_write_units(params: Mapping[str, Any]) -> tuple[int, float]:
    """(items, billed write units) of a TransactWriteItems request: AWS bills each item at 2x a standard write (the
    Developer Guide, *Capacity units for transactions*). A Put's units come from the item it writes; an Update's,
    Delete's or ConditionCheck's are taken as 1, a lower bound (exact for items of at most 1 KB: the request does
    not carry the stored item's size). DynamoDB Local's own figure does not follow the items (measured: one Put and
    seven Puts both report 2), so this is the billed figure whenever the meter saw the request."""
    items, billed = 0, 0.0
    for entry in params.get("TransactItems") or []:
        put = entry.get("Put") if isinstance(entry, Mapping) else None
        units = failed_write_units(item_size(put.get("Item") or {})) if isinstance(put, Mapping) else 1.0
        items += 1
        billed += AWS_TRANSACT_WRITE_MULTIPLIER * units
    return items, billed


def capacity_of(
    operation: str,
    parsed: Mapping[str, Any],
    *,
    calibration: Calibration | None = None,
    batch_keys: Mapping[str, tuple[int, bool]] | None = None,
    write_bytes: int | None = None,
    transact_billed: float | None = None,
) -> Capacity:
    """Capacity of one API response (botocore's ``parsed`` dict from the after-call event). ``transact_billed``: a
    successful TransactWriteItems' billed units from its request (``transaction_write_units``); without it, Local's
    figure times the calibration's factor."""
    cal = calibration or Calibration()
    error = (parsed.get("Error") or {}).get("Code")
    if error == CONDITION_FAILED and operation in CONDITIONAL_WRITES:
        reported = sum(entry_units(e)[2] for e in consumed_entries(parsed.get("ConsumedCapacity")))
        billed = failed_write_units(write_bytes) if cal.failed_conditions_free else reported
        return Capacity(write=reported, billed_write=billed)
    read = write = 0.0
    for entry in consumed_entries(parsed.get("ConsumedCapacity")):
        r, w, total = entry_units(entry)
        if r is None and w is None:  # mode TOTAL: one figure, read or write by the kind of operation
            if operation in WRITE_OPERATIONS:
                write += total
            else:
                read += total
        else:
            read += r or 0.0
            write += w or 0.0
    billed_write = write
    if operation == TRANSACT_WRITE:
        ok = not error
        billed_write = transact_billed if ok and transact_billed is not None else write * cal.transact_write_factor
    result = Capacity(read=read, write=write, billed_read=read, billed_write=billed_write)
    if operation == BATCH_GET and batch_keys and cal.batch_get_misses_free:
        result = result + batch_get_misses(parsed, batch_keys)
    return result


def _key_kind(pk: str, sk: str | None) -> str:
    """``T#<tid>#C#<cid>`` + ``ENR#pl_x`` -> ``C/ENR``: the partition's kind (the segment after the tenant) and the
    sort key's leading upper-case token, or ``*`` when the sort key starts with an id (a touch in its bucket)."""
    parts = pk.split("#")
    kind = parts[2] if len(parts) > 2 else parts[0]
    if sk is None:
        return kind
    head = sk.split("#", 1)[0]
    return f"{kind}/{head if head.isupper() else '*'}"


def key_label(operation: str, params: Mapping[str, Any]) -> str:
    """What a call touches, by key shape (docs/data-model.md), so a cost can be pinned on the code that made it."""

    def s(value: Any) -> str | None:
        return value.get("S") if isinstance(value, Mapping) else None

    key = params.get("Key") or params.get("Item")
    if isinstance(key, Mapping) and s(key.get("pk")):
        return _key_kind(str(s(key.get("pk"))), s(key.get("sk")))
    if operation in ("Query", "Scan"):
        values = params.get("ExpressionAttributeValues") or {}
        condition = str(params.get("KeyConditionExpression") or "")
        partition = next(
            (str(s(v)) for name, v in values.items() if s(v) and f"= {name}" in condition.split(" AND ")[0]), ""
        )
        where = params.get("IndexName") or "table"
        return f"{where}:{_key_kind(partition, None)}" if partition else str(where)
    if operation == BATCH_WRITE:
        kinds = sorted(
            {
                _key_kind(str(s(k.get("pk"))), s(k.get("sk")))
                for requests in (params.get("RequestItems") or {}).values()
                for request in requests
                for spec in request.values()
                if isinstance(spec, Mapping)
                for k in (spec.get("Item") or spec.get("Key") or {},)
                if s(k.get("pk"))
            }
        )
        return "+".join(kinds)
    if operation == TRANSACT_WRITE:
        kinds = sorted(
            {
                _key_kind(str(s(k.get("pk"))), s(k.get("sk")))
                for entry in params.get("TransactItems") or []
                for spec in entry.values()
                if isinstance(spec, Mapping)
                for k in (spec.get("Key") or spec.get("Item") or {},)
                if s(k.get("pk"))
            }
        )
        return "+".join(kinds)
    if operation == BATCH_GET:
        kinds = sorted(
            {
                _key_kind(str(s(k.get("pk"))), s(k.get("sk")))
                for spec in (params.get("RequestItems") or {}).values()
                for k in spec.get("Keys") or []
                if s(k.get("pk"))
            }
        )
        return "+".join(kinds)
    return ""


@dataclass(frozen=True)
class CallRecord:
    """One DynamoDB API call as the after-call event saw it."""

    operation: str
    capacity: Capacity
    seconds: float
    error: str | None = None
    keys_requested: int = 0  # BatchGetItem only: keys asked for and items found
    items_returned: int = 0
    item: str = ""  # the kind of item by its key shape (``key_label``), e.g. "C/PROFILE", "BKT/BUCKET"
    tx_items: int = 0  # TransactWriteItems only: the items it held


def total_capacity(records: Iterable[CallRecord]) -> Capacity:
    result = Capacity()
    for record in records:
        result = result + record.capacity
    return result


def count_operations(records: Iterable[CallRecord]) -> dict[str, int]:
    return dict(Counter(r.operation for r in records))


def units_by_operation(records: Iterable[CallRecord]) -> dict[str, float]:
    """Billed units (read + write) by operation: where a delivery's cost goes."""
    out: dict[str, float] = {}
    for r in records:
        out[r.operation] = out.get(r.operation, 0.0) + r.capacity.billed_total
    return out


def count_by_api(calls: Iterable[Any]) -> dict[str, int]:
    """WeCom calls by API name (objects with an ``api`` attribute, like devstack.wecom_world.Call)."""
    return dict(Counter(str(c.api) for c in calls))
