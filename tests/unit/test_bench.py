"""The bench's pure parts: percentiles, capacity accounting from sample botocore payloads, import-time parsing,
targets and the markdown. No DynamoDB Local, no sandbox, no subprocess (except the opt-in smoke test at the end)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import stats
from bench.harness import Sample, Scenario
from bench.imports import ImportRow, ImportTimes, parse_importtime, top_cumulative
from bench.meter import (
    Calibration,
    Capacity,
    DynamoMeter,
    calibrate,
    capacity_of,
    count_by_api,
    count_operations,
    entry_units,
    total_capacity,
    units_by_operation,
)
from bench.report import Report, any_failed, fmt, render_markdown, summarize, summary_lines, targets

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_REPORTS_1X = Calibration(transact_write_factor=2.0, batch_get_misses_free=True)  # what docs/reference says
LOCAL_REPORTS_2X = Calibration(transact_write_factor=1.0, batch_get_misses_free=True)

# --- percentiles ----------------------------------------------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert stats.percentile([5, 1, 3, 2, 4], 50) == 3
    assert stats.percentile([1, 2, 3, 4, 5], 0) == 1
    assert stats.percentile([1, 2, 3, 4, 5], 100) == 5
    assert stats.percentile([1, 2, 3, 4, 5], 25) == 2
    assert stats.percentile([10, 20], 50) == 15
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert stats.percentile([7.0], 99) == 7.0
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.mean([1, 2, 3, 6]) == 3


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1], 101)
    with pytest.raises(ValueError):
        stats.mean([])
    assert stats.ratio(1, 0) is None
    assert stats.ratio(3, 4) == 0.75


# --- capacity accounting --------------------------------------------------------------------------------------------


def test_single_item_operations_count_as_read_or_write_by_kind() -> None:
    put = capacity_of("PutItem", {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 2.0}})
    assert put == Capacity(read=0, write=2, billed_read=0, billed_write=2)
    get = capacity_of("GetItem", {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}})
    assert get == Capacity(read=0.5, write=0, billed_read=0.5, billed_write=0)
    assert capacity_of("UpdateItem", {"Attributes": {}}) == Capacity()  # no ConsumedCapacity: nothing counted


def test_transact_write_is_doubled_when_local_under_reports_and_not_when_it_does_not() -> None:
    parsed = {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 5.0}]}
    doubled = capacity_of("TransactWriteItems", parsed, calibration=LOCAL_REPORTS_1X)
    assert (doubled.write, doubled.billed_write) == (5.0, 10.0)
    as_reported = capacity_of("TransactWriteItems", parsed, calibration=LOCAL_REPORTS_2X)
    assert (as_reported.write, as_reported.billed_write) == (5.0, 5.0)
    assert capacity_of("TransactWriteItems", parsed).billed_write == 10.0  # default: the issue's 2x rule
    # Only transactions: a plain write is billed as reported whatever the calibration.
    assert capacity_of("PutItem", {"ConsumedCapacity": {"CapacityUnits": 1.0}}, calibration=LOCAL_REPORTS_1X) == (
        Capacity(write=1, billed_write=1)
    )


def test_tables_and_indexes_are_summed_without_double_counting() -> None:
    # INDEXES mode: a top-level total that already includes the GSI; the breakdown must not be added again.
    with_total = {
        "TableName": "t",
        "CapacityUnits": 3.0,
        "Table": {"CapacityUnits": 2.0},
        "GlobalSecondaryIndexes": {"gsi1": {"CapacityUnits": 1.0}},
    }
    assert entry_units(with_total) == (None, None, 3.0)
    # No top-level figure: table + GSIs + LSIs.
    breakdown = {
        "Table": {"CapacityUnits": 2.0},
        "GlobalSecondaryIndexes": {"gsi1": {"CapacityUnits": 1.0}, "gsi2": {"CapacityUnits": 1.0}},
        "LocalSecondaryIndexes": {"lsi1": {"CapacityUnits": 0.5}},
    }
    assert entry_units(breakdown)[2] == 4.5
    two_tables = {"ConsumedCapacity": [{"TableName": "a", "CapacityUnits": 1.0}, with_total]}
    assert capacity_of("BatchWriteItem", two_tables).write == 4.0


def test_explicit_read_and_write_units_win_over_the_operation_kind() -> None:
    entry = {"TableName": "t", "CapacityUnits": 3.0, "ReadCapacityUnits": 1.0, "WriteCapacityUnits": 2.0}
    cap = capacity_of("TransactWriteItems", {"ConsumedCapacity": [entry]}, calibration=LOCAL_REPORTS_1X)
    assert (cap.read, cap.write, cap.billed_read, cap.billed_write) == (1.0, 2.0, 1.0, 4.0)


def test_batch_get_misses_are_billed_at_the_minimum_read() -> None:
    parsed = {
        "Responses": {"t": [{"pk": {"S": "1"}}, {"pk": {"S": "2"}}, {"pk": {"S": "3"}}]},
        "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1.5}],
    }
    eventual = capacity_of("BatchGetItem", parsed, batch_keys={"t": (6, False)})
    assert (eventual.read, eventual.billed_read) == (1.5, 3.0)  # 3 misses x 0.5
    strong = capacity_of("BatchGetItem", parsed, batch_keys={"t": (6, True)})
    assert strong.billed_read == 4.5  # 3 misses x 1
    pending = dict(parsed, UnprocessedKeys={"t": {"Keys": [{"pk": {"S": "9"}}]}})
    assert capacity_of("BatchGetItem", pending, batch_keys={"t": (6, False)}).billed_read == 2.5  # not a miss
    charged = Calibration(batch_get_misses_free=False)
    assert capacity_of("BatchGetItem", parsed, calibration=charged, batch_keys={"t": (6, False)}).billed_read == 1.5


class _Shape:
    def __init__(self, *members: str) -> None:
        self.members = dict.fromkeys(members)


def _model(name: str, *members: str) -> Any:
    return SimpleNamespace(name=name, input_shape=_Shape(*members))


def test_meter_handlers_ask_for_capacity_and_record_each_call() -> None:
    meter = DynamoMeter(calibration=LOCAL_REPORTS_1X)
    get = _model("BatchGetItem", "RequestItems", "ReturnConsumedCapacity")
    params: dict[str, Any] = {"RequestItems": {"t": {"Keys": [{}, {}, {}], "ConsistentRead": False}}}
    context: dict[str, Any] = {}
    meter.before_parameter_build(params=params, model=get, context=context)
    assert params["ReturnConsumedCapacity"] == "TOTAL"
    meter.before_call(context=context)
    meter.after_call(
        parsed={"Responses": {"t": [{}]}, "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 0.5}]},
        model=get,
        context=context,
        http_response=None,
    )
    kept: dict[str, Any] = {"ReturnConsumedCapacity": "INDEXES"}
    meter.before_parameter_build(params=kept, model=_model("PutItem", "ReturnConsumedCapacity"), context={})
    assert kept["ReturnConsumedCapacity"] == "INDEXES"  # a richer mode the caller chose stays
    describe: dict[str, Any] = {}
    meter.before_parameter_build(params=describe, model=_model("DescribeTable", "TableName"), context={})
    assert "ReturnConsumedCapacity" not in describe  # the operation does not accept it
    tx = _model("TransactWriteItems", "TransactItems", "ReturnConsumedCapacity")
    meter.after_call(parsed={"ConsumedCapacity": [{"CapacityUnits": 3.0}]}, model=tx, context={})
    meter.after_call(parsed={"Error": {"Code": "ConditionalCheckFailedException"}}, model=_model("PutItem"), context={})

    [batch, write, failed] = meter.records
    assert batch.operation == "BatchGetItem" and (batch.keys_requested, batch.items_returned) == (3, 1)
    assert batch.capacity == Capacity(read=0.5, billed_read=1.5) and batch.seconds >= 0
    assert write.capacity == Capacity(write=3, billed_write=6)
    assert failed.error == "ConditionalCheckFailedException" and failed.capacity == Capacity()
    assert total_capacity(meter.records) == Capacity(read=0.5, write=3, billed_read=1.5, billed_write=6)
    assert count_operations(meter.records) == {"BatchGetItem": 1, "TransactWriteItems": 1, "PutItem": 1}
    assert units_by_operation(meter.records) == {"BatchGetItem": 1.5, "TransactWriteItems": 6.0, "PutItem": 0.0}
    assert meter.since(2) == [failed]


def test_meter_attaches_once_per_event_emitter() -> None:
    registered: list[str] = []
    events = SimpleNamespace(register=lambda name, handler: registered.append(name))
    client = SimpleNamespace(meta=SimpleNamespace(events=events))
    meter = DynamoMeter()
    assert meter.attach(client) is True
    assert meter.attach(client) is False
    assert meter.attached == 1
    assert registered == ["before-parameter-build.dynamodb", "before-call.dynamodb", "after-call.dynamodb"]


def test_wecom_calls_are_counted_by_api() -> None:
    calls = [SimpleNamespace(api=a) for a in ("externalcontact/get", "gettoken", "externalcontact/get")]
    assert count_by_api(calls) == {"externalcontact/get": 2, "gettoken": 1}
    assert count_by_api([]) == {}


class _FakeLocal:
    """Answers calibrate()'s three calls with given capacities, as a DynamoDB Local build would."""

    def __init__(self, put: float, tx: float, miss: float) -> None:
        self.answers = {"put": put, "tx": tx, "miss": miss}
        self.tables: list[str] = []

    def create_table(self, TableName: str, **_: Any) -> None:
        self.tables.append(TableName)

    def delete_table(self, TableName: str) -> None:
        self.tables.remove(TableName)

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {"ConsumedCapacity": {"CapacityUnits": self.answers["put"]}}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {"ConsumedCapacity": [{"CapacityUnits": self.answers["tx"]}]}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}, "ConsumedCapacity": [{"CapacityUnits": self.answers["miss"]}]}


def test_calibration_derives_the_transaction_factor_from_what_local_reports() -> None:
    under = _FakeLocal(put=1.0, tx=1.0, miss=0.0)
    cal = calibrate(under)
    assert (cal.transact_write_factor, cal.batch_get_misses_free) == (2.0, True)
    assert under.tables == []  # the scratch table is dropped
    already = calibrate(_FakeLocal(put=1.0, tx=2.0, miss=1.0))
    assert (already.transact_write_factor, already.batch_get_misses_free) == (1.0, False)
    assert "x 1" in already.describe() and "already charged" in already.describe()


# --- import time ----------------------------------------------------------------------------------------------------

IMPORTTIME_SAMPLE = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2000 |       5000 |     chalice.app
import time:       300 |       5300 |   chalice
import time:       900 |       9000 | app
something else on stderr
"""


def test_importtime_output_is_parsed_and_ranked_by_cumulative_time() -> None:
    rows = parse_importtime(IMPORTTIME_SAMPLE)
    assert rows[0] == ImportRow("_io", 120, 120, 1)
    assert [r.module for r in rows] == ["_io", "chalice.app", "chalice", "app"]
    assert rows[1].depth == 2 and rows[3].depth == 0
    slower = [ImportRow(r.module, r.self_us * 3, r.cumulative_us * 3, r.depth) for r in rows]
    top = top_cumulative([rows, rows, slower], n=2)
    assert [(r.module, r.cumulative_us) for r in top] == [("app", 9000), ("chalice", 5300)]  # medians


# --- report ---------------------------------------------------------------------------------------------------------


def _sample(ms: float, cap: Capacity, wecom: dict[str, int], outcome: str) -> Sample:
    return Sample(
        latency_s=ms / 1000,
        capacity=cap,
        ddb_ops={"BatchGetItem": 1},
        ddb_seconds=ms / 2000,
        ddb_errors={},
        batch_keys=6,
        batch_found=3,
        wecom=wecom,
        outcome=outcome,
        ddb_units={"BatchGetItem": cap.billed_total},
    )


def _report(new_write: float, dup_read: float, dup_wecom: int, import_s: float) -> Report:
    new = Scenario("new", "New customer", "A scan", 3, 1, True)
    new.samples = [
        _sample(ms, Capacity(2, new_write, 3, new_write), {"externalcontact/get": 1}, "created") for ms in (30, 10, 20)
    ]
    dup = Scenario("duplicate", "Duplicate delivery", "A replay", 3, 1, True)
    dup.samples = [
        _sample(5, Capacity(dup_read, 0, dup_read, 0), {"gettoken": dup_wecom} if i == 0 else {}, "duplicate")
        for i in range(3)
    ]
    return Report(
        date="2026-01-02 03:04 UTC",
        command=".venv/bin/python -m bench",
        python_display=".venv/bin/python",
        n=3,
        warmup=1,
        quick=False,
        machine={"`nproc`": "2", "Python": "CPython 3.11.7"},
        calibration=LOCAL_REPORTS_2X,
        scenarios=[new, dup],
        imports=ImportTimes([import_s, import_s, import_s], [ImportRow("app", 9000, 300000, 0)], 3),
        sandbox_roundtrip_ms={"as shipped": 44.0, "TCP_NODELAY": 0.3},
    )


def test_summary_reduces_samples_to_medians_means_and_percentiles() -> None:
    s = summarize(_report(5, 1, 0, 0.2).scenarios[0])
    assert s.latency_ms["p50"] == pytest.approx(20) and s.latency_ms["max"] == pytest.approx(30)
    assert s.latency_ms["p99"] == pytest.approx(29.8)
    assert s.billed_write == {"median": 5, "mean": 5, "max": 5}
    assert s.wecom == {"externalcontact/get": 1.0} and s.wecom_total == 3 and s.gettoken == 0
    assert s.outcomes == {"created": 3}


def test_targets_pass_and_fail_on_the_issue_limits() -> None:
    good = _report(new_write=6, dup_read=2, dup_wecom=0, import_s=0.5)
    assert all(t.passed for t in targets(good)) and not any_failed(good)
    bad = _report(new_write=11, dup_read=3, dup_wecom=1, import_s=0.6)
    failed = [t.name for t in targets(bad) if not t.passed]
    assert [name.split(" (")[0] for name in failed] == [
        "New customer: DynamoDB write units",
        "Duplicate delivery: DynamoDB units, read + write",
        "Duplicate delivery: WeCom calls",
        "`import app`, cold",
    ]
    assert any_failed(bad)
    assert any(line.startswith("FAIL  New customer: DynamoDB write units") for line in summary_lines(bad))


def test_markdown_names_the_date_machine_commands_and_results() -> None:
    text = render_markdown(_report(new_write=11, dup_read=2, dup_wecom=0, import_s=0.15))
    assert text.startswith("# Performance\n")
    assert "2026-01-02 03:04 UTC" in text and "| `nproc` | 2 |" in text
    assert "`.venv/bin/python -m bench`" in text
    assert 'import time; t=time.perf_counter(); import app; print(time.perf_counter()-t)"' in text
    assert "`.venv/bin/python -X importtime -c 'import app'`" in text
    assert "| **FAIL** |" in text and "| PASS |" in text
    assert "### New customer" in text and "### Duplicate delivery" in text
    assert "| write units, billed (AWS) | 11 | 11 | 11 |" in text
    assert "TransactWriteItems" in text and "under-reports" in text  # the reported-vs-billed explanation
    assert "duplicate / new customer, billed units (mean)" in text
    assert "| 150 ms | 150 ms | 150 ms |" in text


def test_numbers_are_shown_without_noise() -> None:
    assert fmt(500, 0) == "500" and fmt(1.5) == "1.5" and fmt(6.0) == "6" and fmt(0.125, 2) == "0.12"
    assert fmt(None) == "n/a" and fmt(-0.0001) == "0"


# --- opt-in end-to-end smoke test -----------------------------------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("BENCH_SMOKE") != "1",
    reason="starts DynamoDB Local and a JVM (~15 s): set BENCH_SMOKE=1 to run `python -m bench --quick`",
)
def test_quick_bench_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1 = a target failed, which is a finding, not a crash
    text = out.read_text()
    assert "Bench integrity: DynamoDB calls that escaped the meter | = 0 | 0 | PASS" in text
    assert "outcomes: created x20" in text and "outcomes: duplicate x20" in text
