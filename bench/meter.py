"""Per-operation accounting of DynamoDB capacity (via botocore events) and of other AWS API calls (EventBridge
Scheduler), plus the audits that prove no call escaped the hooks.

Why events and not a wrapper around the store: the app talks to DynamoDB through several botocore clients (the
store's shared PynamoDB Connection for raw calls and transactions, plus one Connection per PynamoDB model class for
``Model.save/update``), and botocore events see exactly what goes on the wire, whichever layer issued it. What a
call costs is computed by bench/capacity.py; ``calibrate`` measures how this DynamoDB Local reports it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import (
    AWS_TRANSACT_WRITE_MULTIPLIER,
    BATCH_GET,
    CAPACITY_PARAM,
    CONDITION_FAILED,
    TRANSACT_WRITE,
    Calibration,
    CallRecord,
    capacity_of,
    consumed_entries,
    entry_units,
    item_size,
    key_label,
    transaction_write_units,
)

_BATCH_KEYS = "siyu_bench_batch_keys"  # botocore request-context keys (one dict per API call)
_STARTED = "siyu_bench_started"
_WRITE_BYTES = "siyu_bench_write_bytes"  # PutItem: the size of the item it tried to write
_ITEM = "siyu_bench_item"  # the key_label of the call
_TX = "siyu_bench_transaction"  # TransactWriteItems: (items, billed write units) from its request


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
        if isinstance(context, dict):
            context[_ITEM] = key_label(str(getattr(model, "name", "")), params)
        if getattr(model, "name", "") == "PutItem" and isinstance(context, dict) and "Item" in params:
            context[_WRITE_BYTES] = item_size(params["Item"])
        if getattr(model, "name", "") == TRANSACT_WRITE and isinstance(context, dict):
            context[_TX] = transaction_write_units(params)
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
        tx_items, tx_billed = ctx.get(_TX) or (0, None)
        capacity = capacity_of(
            operation,
            parsed,
            calibration=self.calibration,
            batch_keys=batch_keys,
            write_bytes=ctx.get(_WRITE_BYTES),
            transact_billed=tx_billed,
        )
        requested = sum(n for n, _ in batch_keys.values()) if batch_keys else 0
        returned = sum(len(items or []) for items in (parsed.get("Responses") or {}).values()) if batch_keys else 0
        self.records.append(
            CallRecord(
                operation,
                capacity,
                seconds,
                str(error) if error else None,
                requested,
                returned,
                str(ctx.get(_ITEM) or ""),
                tx_items,
            )
        )


@contextlib.contextmanager
def count_all_dynamodb_calls() -> Iterator[list[int]]:
    """Audit: count every DynamoDB call made by *any* botocore client in this process while the block runs.

    Compared with the meter's count it proves no client escaped the event hooks (a PynamoDB model class that gets a
    new Connection, say). Patches botocore's BaseClient for the duration only.
    """
    # botocore (~0.1 s to import) only when an audit runs, not for `--help` or the offline unit tests.
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
    If Local reports 2x already, multiplying again would double-count; if it reports 1x, billed = 2x reported (the
    fallback for a transaction whose request the meter did not see). Then seven tiny items in one transaction: AWS
    bills 7x the one, Local (measured) reports the same 2 as for one, so the meter bills transactions from their
    requests (``transaction_write_units``) and keeps Local's figure as *reported*.
    Then the same PutItem again under ``attribute_not_exists(pk)``: its condition fails, which AWS bills (1 WCU for
    an item that small); if Local's error carries no ConsumedCapacity, the meter adds the charge itself.
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
        seven = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"c{n}"}}}} for n in range(7)]
        tx_many = client.transact_write_items(TransactItems=seven, ReturnConsumedCapacity="TOTAL")
        miss = client.batch_get_item(
            RequestItems={table: {"Keys": [{"pk": {"S": "missing-1"}}, {"pk": {"S": "missing-2"}}]}},
            ReturnConsumedCapacity="TOTAL",
        )
        failed = _failed_conditional_put(client, table)
    finally:
        client.delete_table(TableName=table)
    put_units = sum(entry_units(e)[2] for e in consumed_entries(put.get("ConsumedCapacity")))
    tx_units = sum(entry_units(e)[2] for e in consumed_entries(tx.get("ConsumedCapacity")))
    tx_many_units = sum(entry_units(e)[2] for e in consumed_entries(tx_many.get("ConsumedCapacity")))
    miss_units = sum(entry_units(e)[2] for e in consumed_entries(miss.get("ConsumedCapacity")))
    failed_units = sum(entry_units(e)[2] for e in consumed_entries(failed.get("ConsumedCapacity")))
    reported_ratio = tx_units / put_units if put_units else 1.0
    return Calibration(
        transact_write_factor=AWS_TRANSACT_WRITE_MULTIPLIER / reported_ratio if reported_ratio else 1.0,
        batch_get_misses_free=miss_units == 0,
        failed_conditions_free=failed_units == 0,
        put_units=put_units,
        transact_put_units=tx_units,
        transact_many_units=tx_many_units,
        batch_get_miss_units=miss_units,
        failed_put_units=failed_units,
    )


def _failed_conditional_put(client: Any, table: str) -> Mapping[str, Any]:
    """The error response of a PutItem whose condition fails (item "a" exists)."""
    try:
        client.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnConsumedCapacity="TOTAL",
        )
    except Exception as exc:  # botocore's ClientError; its .response is what the after-call event sees
        response = getattr(exc, "response", None)
        if isinstance(response, Mapping) and (response.get("Error") or {}).get("Code") == CONDITION_FAILED:
            return response
        raise
    raise RuntimeError("a PutItem under attribute_not_exists(pk) on an existing item succeeded")


@dataclass(frozen=True)
class ApiCall:
    """One call of a non-DynamoDB AWS API (EventBridge Scheduler), as the after-call event saw it."""

    operation: str
    seconds: float
    error: str | None = None


@dataclass
class ApiCallCounter:
    """Collects an ApiCall for every call of ``service`` made through the attached botocore clients."""

    service: str
    records: list[ApiCall] = field(default_factory=list)
    _emitters: dict[int, Any] = field(default_factory=dict)

    def attach(self, client: Any) -> bool:
        events = client.meta.events
        if id(events) in self._emitters:
            return False
        events.register(f"before-call.{self.service}", self.before_call)
        events.register(f"after-call.{self.service}", self.after_call)
        self._emitters[id(events)] = events
        return True

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[ApiCall]:
        return self.records[mark:]

    def before_call(self, context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context[_STARTED] = time.perf_counter()

    def after_call(self, parsed: Mapping[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        started = context.get(_STARTED) if isinstance(context, dict) else None
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, Mapping) else None
        self.records.append(
            ApiCall(
                str(getattr(model, "name", "?")),
                time.perf_counter() - started if started is not None else 0.0,
                str(error) if error else None,
            )
        )


def count_api_calls(calls: Iterable[ApiCall]) -> dict[str, int]:
    """Calls by operation; a failed one counts under ``Operation:ErrorCode`` as well as its operation."""
    out: Counter[str] = Counter()
    for call in calls:
        out[call.operation] += 1
        if call.error:
            out[f"{call.operation}:{call.error}"] += 1
    return dict(sorted(out.items()))


@contextlib.contextmanager
def count_all_calls() -> Iterator[Counter[str]]:
    """Audit: every AWS API call made by *any* botocore client in this process while the block runs, by service
    (``dynamodb``, ``scheduler``...). Compared with the meters' counts it proves no client escaped the hooks."""
    # botocore (~0.1 s to import) only when an audit runs, not for `--help` or the offline unit tests.
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    counter: Counter[str] = Counter()

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        counter[self.meta.service_model.service_name] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting
    try:
        yield counter
    finally:
        BaseClient._make_api_call = original
