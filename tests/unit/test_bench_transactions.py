"""The shared meter bills a TransactWriteItems from its request (2x each item's write units), because DynamoDB
Local's figure is per transaction, not per item; *reported* stays Local's. Offline: sample payloads only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bench.capacity import Calibration, Capacity, capacity_of, key_label, transaction_write_units
from bench.meter import DynamoMeter, calibrate

SMALL = {"pk": {"S": "T#t1#BRD#wr1"}, "sk": {"S": "S#0010"}}
BIG = {"pk": {"S": "T#t1#C#cu_1"}, "sk": {"S": "PTS"}, "doc": {"S": "x" * 1500}}  # 2 write units
UPDATE = {"Update": {"Key": {"pk": {"S": "T#t1#C#cu_1"}, "sk": {"S": "DAY#1"}}, "UpdateExpression": "SET v = :v"}}
DELETE = {"Delete": {"Key": {"pk": {"S": "T#t1#BRD#wr1"}, "sk": {"S": "S#0000"}}}}
CHECK = {"ConditionCheck": {"Key": {"pk": {"S": "T#t1"}, "sk": {"S": "TENANT"}}}}


def _model(name: str) -> Any:
    return SimpleNamespace(name=name, input_shape=SimpleNamespace(members={"ReturnConsumedCapacity": None}))


def test_a_transactions_items_are_each_billed_twice_their_write_units() -> None:
    items = [{"Put": {"Item": SMALL}}, {"Put": {"Item": BIG}}, UPDATE, DELETE, CHECK]
    assert transaction_write_units({"TransactItems": items}) == (5, 2 * (1 + 2 + 1 + 1 + 1))
    assert transaction_write_units({"TransactItems": []}) == (0, 0.0)
    assert transaction_write_units({}) == (0, 0.0)


def test_the_meter_bills_a_transaction_from_its_request_and_keeps_locals_figure_as_reported() -> None:
    meter = DynamoMeter(calibration=Calibration(transact_write_factor=1.0))
    tx = _model("TransactWriteItems")
    seven: dict[str, Any] = {"TransactItems": [{"Put": {"Item": SMALL}}] * 6 + [UPDATE]}
    context: dict[str, Any] = {}
    meter.before_parameter_build(params=seven, model=tx, context=context)
    meter.after_call(parsed={"ConsumedCapacity": [{"CapacityUnits": 2.0}]}, model=tx, context=context)
    [record] = meter.records
    assert record.capacity == Capacity(write=2.0, billed_write=14.0)  # Local: 2 for all seven; AWS: 2 x 7
    assert record.tx_items == 7 and record.item == "BRD/S+C/DAY"


def test_a_transaction_the_meter_did_not_see_falls_back_on_the_calibration() -> None:
    parsed = {"ConsumedCapacity": [{"CapacityUnits": 2.0}]}
    assert capacity_of("TransactWriteItems", parsed, calibration=Calibration(transact_write_factor=1.0)) == Capacity(
        write=2.0, billed_write=2.0
    )
    assert capacity_of("TransactWriteItems", parsed, transact_billed=6.0).billed_write == 6.0
    cancelled = {"Error": {"Code": "TransactionCanceledException"}}
    assert capacity_of("TransactWriteItems", cancelled, transact_billed=6.0) == Capacity()  # billed as reported


def test_transactions_and_batch_writes_are_labelled_by_the_kinds_of_item_they_hold() -> None:
    params = {"TransactItems": [{"Put": {"Item": SMALL}}, UPDATE, DELETE]}
    assert key_label("TransactWriteItems", params) == "BRD/S+C/DAY"
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": SMALL}}, {"DeleteRequest": {"Key": BIG}}]}}
    assert key_label("BatchWriteItem", batch) == "BRD/S+C/PTS"


class _Local:
    """calibrate()'s calls answered as DynamoDB Local answers them: 2 units for any transaction of small items."""

    def __init__(self) -> None:
        self.transactions: list[int] = []

    def create_table(self, **_: Any) -> None: ...

    def delete_table(self, **_: Any) -> None: ...

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        if "ConditionExpression" in kwargs:
            error = SimpleNamespace(response={"Error": {"Code": "ConditionalCheckFailedException"}})
            raise type("Failed", (Exception,), {"response": error.response})()
        return {"ConsumedCapacity": {"CapacityUnits": 1.0}}

    def transact_write_items(self, TransactItems: list[Any], **_: Any) -> dict[str, Any]:
        self.transactions.append(len(TransactItems))
        return {"ConsumedCapacity": [{"CapacityUnits": 2.0}]}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}, "ConsumedCapacity": [{"CapacityUnits": 0.0}]}


def test_calibration_shows_that_locals_transaction_figure_does_not_follow_the_items() -> None:
    local = _Local()
    cal = calibrate(local)
    assert local.transactions == [1, 7]
    assert (cal.transact_put_units, cal.transact_many_units) == (2.0, 2.0)
    assert "does not follow the items" in cal.describe() and "reported x 1" in cal.describe()
