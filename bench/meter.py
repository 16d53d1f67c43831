"""Per-operation accounting of DynamoDB capacity (via botocore events) and of WeCom API calls (via the sandbox log).

Why events and not a wrapper around the store: the app talks to DynamoDB through several botocore clients (the
store's shared PynamoDB Connection for raw calls and transactions, plus one Connection per PynamoDB model class for
``Model.save/update``), and botocore events see exactly what goes on the wire, whichever layer issued it.

Two figures per call: what DynamoDB Local *reported*, and what AWS would *bill*. They differ where Local's
accounting is known to differ from AWS's; ``calibrate`` measures those differences on the running Local instead of
trusting a note, so the bench stays right when the Local build changes.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
TRANSACT_WRITE = "TransactWriteItems"
BATCH_GET = "BatchGetItem"
MIN_READ_EVENTUAL = 0.5  # a read of a missing item still costs the minimum (AWS bills each BatchGetItem key)
MIN_READ_STRONG = 1.0
AWS_TRANSACT_WRITE_MULTIPLIER = 2.0  # AWS bills a transactional write at 2x a standard one
CAPACITY_PARAM = "ReturnConsumedCapacity"

_BATCH_KEYS = "siyu_bench_batch_keys"  # botocore request-context keys (one dict per API call)
_STARTED = "siyu_bench_started"


@dataclass(frozen=True)
class Calibration:
    """How this DynamoDB Local's ConsumedCapacity relates to AWS billing.

    ``transact_write_factor`` multiplies Local's reported TransactWriteItems units to get AWS's: 2.0 if Local reports
    transactional writes like standard ones (what docs/reference said), 1.0 if it already reports the 2x.
    ``batch_get_misses_free``: Local reports 0 units for BatchGetItem keys that are not found, AWS bills the minimum.
    """

    transact_write_factor: float = AWS_TRANSACT_WRITE_MULTIPLIER
    batch_get_misses_free: bool = True
    put_units: float | None = None  # the raw observations, for the report
    transact_put_units: float | None = None
    batch_get_miss_units: float | None = None

    def describe(self) -> str:
        if self.put_units is None:
            return "not calibrated (assumed: Local reports transactions at 1x and BatchGetItem misses as free)"
        return (
            f"one 1-unit item: PutItem reported {self.put_units:g} WCU, the same Put inside TransactWriteItems "
            f"{self.transact_put_units:g} WCU -> billed TransactWriteItems = reported x "
            f"{self.transact_write_factor:g}; "
            f"BatchGetItem of 2 missing keys reported {self.batch_get_miss_units:g} RCU -> "
            + (
                "billed reads add the 0.5 RCU minimum per missing key"
                if self.batch_get_misses_free
                else "misses already charged"
            )
        )


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


def _entries(consumed: Any) -> list[Mapping[str, Any]]:
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


def capacity_of(
    operation: str,
    parsed: Mapping[str, Any],
    *,
    calibration: Calibration | None = None,
    batch_keys: Mapping[str, tuple[int, bool]] | None = None,
) -> Capacity:
    """Capacity of one API response (botocore's ``parsed`` dict from the after-call event)."""
    cal = calibration or Calibration()
    read = write = 0.0
    for entry in _entries(parsed.get("ConsumedCapacity")):
        r, w, total = entry_units(entry)
        if r is None and w is None:  # mode TOTAL: one figure, read or write by the kind of operation
            if operation in WRITE_OPERATIONS:
                write += total
            else:
                read += total
        else:
            read += r or 0.0
            write += w or 0.0
    billed_write = write * cal.transact_write_factor if operation == TRANSACT_WRITE else write
    result = Capacity(read=read, write=write, billed_read=read, billed_write=billed_write)
    if operation == BATCH_GET and batch_keys and cal.batch_get_misses_free:
        result = result + batch_get_misses(parsed, batch_keys)
    return result


@dataclass(frozen=True)
class CallRecord:
    """One DynamoDB API call as the after-call event saw it."""

    operation: str
    capacity: Capacity
    seconds: float
    error: str | None = None
    keys_requested: int = 0  # BatchGetItem only: keys asked for and items found
    items_returned: int = 0


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


@dataclass
class DynamoMeter:
    """Collects a CallRecord for every DynamoDB call made through the attached botocore clients."""

    calibration: Calibration = field(default_factory=Calibration)
    records: list[CallRecord] = field(default_factory=list)
    _emitters: dict[int, Any] = field(default_factory=dict)

    def attach(self, client: Any) -> bool:
        """Hook one botocore DynamoDB client (idempotent per event emitter); True if it was new."""
        events = client.meta.events
        if id(events) in self._emitters:
            return False
        events.register("before-parameter-build.dynamodb", self.before_parameter_build)
        events.register("before-call.dynamodb", self.before_call)
        events.register("after-call.dynamodb", self.after_call)
        self._emitters[id(events)] = events  # keeps the emitter alive, so its id is never reused
        return True

    @property
    def attached(self) -> int:
        return len(self._emitters)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[CallRecord]:
        return self.records[mark:]

    # --- botocore handlers (public so tests can drive them with sample payloads) ------------------------------

    def before_parameter_build(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        """Ask for ConsumedCapacity on every operation that accepts it (INDEXES, if the caller chose it, stays)."""
        shape = getattr(model, "input_shape", None)
        members = getattr(shape, "members", {}) or {}
        if CAPACITY_PARAM in members and params.get(CAPACITY_PARAM) in (None, "NONE"):
            params[CAPACITY_PARAM] = "TOTAL"
        if getattr(model, "name", "") == BATCH_GET and isinstance(context, dict):
            context[_BATCH_KEYS] = {
                table: (len(spec.get("Keys") or []), bool(spec.get("ConsistentRead")))
                for table, spec in (params.get("RequestItems") or {}).items()
            }

    def before_call(self, context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context[_STARTED] = time.perf_counter()

    def after_call(self, parsed: Mapping[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        ctx = context if isinstance(context, dict) else {}
        started = ctx.get(_STARTED)
        seconds = time.perf_counter() - started if started is not None else 0.0
        operation = str(getattr(model, "name", "?"))
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, Mapping) else None
        batch_keys = ctx.get(_BATCH_KEYS)
        capacity = capacity_of(operation, parsed, calibration=self.calibration, batch_keys=batch_keys)
        requested = sum(n for n, _ in batch_keys.values()) if batch_keys else 0
        returned = sum(len(items or []) for items in (parsed.get("Responses") or {}).values()) if batch_keys else 0
        self.records.append(
            CallRecord(operation, capacity, seconds, str(error) if error else None, requested, returned)
        )


@contextlib.contextmanager
def count_all_dynamodb_calls() -> Iterator[list[int]]:
    """Audit: count every DynamoDB call made by *any* botocore client in this process while the block runs.

    Compared with the meter's count it proves no client escaped the event hooks (a PynamoDB model class that gets a
    new Connection, say). Patches botocore's BaseClient for the duration only.
    """
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    counter = [0]

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            counter[0] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting
    try:
        yield counter
    finally:
        BaseClient._make_api_call = original


def calibrate(client: Any) -> Calibration:
    """Measure how this DynamoDB Local reports transactional writes and BatchGetItem misses, on a scratch table.

    One tiny item is written with PutItem and again inside TransactWriteItems: AWS bills the second 2x the first.
    If Local reports 2x already, multiplying again would double-count; if it reports 1x, billed = 2x reported.
    """
    table = f"siyu-bench-calibration-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    try:
        put = client.put_item(TableName=table, Item={"pk": {"S": "a"}}, ReturnConsumedCapacity="TOTAL")
        tx = client.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}}], ReturnConsumedCapacity="TOTAL"
        )
        miss = client.batch_get_item(
            RequestItems={table: {"Keys": [{"pk": {"S": "missing-1"}}, {"pk": {"S": "missing-2"}}]}},
            ReturnConsumedCapacity="TOTAL",
        )
    finally:
        client.delete_table(TableName=table)
    put_units = sum(entry_units(e)[2] for e in _entries(put.get("ConsumedCapacity")))
    tx_units = sum(entry_units(e)[2] for e in _entries(tx.get("ConsumedCapacity")))
    miss_units = sum(entry_units(e)[2] for e in _entries(miss.get("ConsumedCapacity")))
    reported_ratio = tx_units / put_units if put_units else 1.0
    return Calibration(
        transact_write_factor=AWS_TRANSACT_WRITE_MULTIPLIER / reported_ratio if reported_ratio else 1.0,
        batch_get_misses_free=miss_units == 0,
        put_units=put_units,
        transact_put_units=tx_units,
        batch_get_miss_units=miss_units,
    )
