"""The integration fixtures work: DynamoDB Local holds tables exactly as infra/ declares, and the features the
adapters rely on (conditions, transactions, consumed capacity) behave like DynamoDB's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.settings import Settings
from devstack.provision import delete_tables, provision, table_specs

INFRA = json.loads((Path(__file__).resolve().parents[2] / "infra" / "resources.json").read_text())["Resources"]
MUTATING = {"CreateTable", "UpdateTable", "UpdateTimeToLive", "DeleteTable", "CreateScheduleGroup"}


def _infra_tables(settings: Settings) -> dict[str, dict[str, Any]]:
    """Table name -> infra Properties, read straight from the template (independently of devstack.provision)."""
    names = {"SiyuTable": settings.table_name, "IdempotencyTable": settings.idempotency_table_name}
    return {names[k]: r["Properties"] for k, r in INFRA.items() if r["Type"] == "AWS::DynamoDB::Table"}


@pytest.fixture
def operations(dynamodb_client: Any) -> Iterator[list[str]]:
    """Names of the DynamoDB operations the client sends while the test runs (a real event hook, not a mock)."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    dynamodb_client.meta.events.register("before-call.dynamodb", record)
    try:
        yield seen
    finally:
        dynamodb_client.meta.events.unregister("before-call.dynamodb", record)


def test_tables_match_infra(ddb_settings: Settings, dynamodb_client: Any) -> None:
    tables = _infra_tables(ddb_settings)
    assert len(tables) == 2
    for name, props in tables.items():
        table = dynamodb_client.describe_table(TableName=name)["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["KeySchema"] == props["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        wanted_indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        actual_indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert actual_indexes.keys() == wanted_indexes.keys()
        for index_name, wanted in wanted_indexes.items():
            assert actual_indexes[index_name]["KeySchema"] == wanted["KeySchema"]
            assert actual_indexes[index_name]["Projection"]["ProjectionType"] == wanted["Projection"]["ProjectionType"]


def test_main_table_has_gsi1(ddb_settings: Settings, dynamodb_client: Any) -> None:
    """gsi1 (whole items) and gsi2 (the customer list: keys and ``kind`` only, so profile updates skip it)."""
    table = dynamodb_client.describe_table(TableName=ddb_settings.table_name)["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
    projections = {i["IndexName"]: i["Projection"] for i in table["GlobalSecondaryIndexes"]}
    assert projections["gsi1"]["ProjectionType"] == "ALL"
    assert projections["gsi2"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["kind"]}


def test_a_table_made_before_gsi2_gets_it_in_place(ddb_settings: Settings, dynamodb_client: Any) -> None:
    """Local data kept across the change (devstack/.data): provisioning adds the new index, keeping the items."""
    old = replace(ddb_settings, table_name=ddb_settings.table_name + "-old")
    [spec] = [s for s in table_specs(old) if s["TableName"] == old.table_name]
    spec["GlobalSecondaryIndexes"] = [i for i in spec["GlobalSecondaryIndexes"] if i["IndexName"] == "gsi1"]
    spec["AttributeDefinitions"] = [
        a for a in spec["AttributeDefinitions"] if not a["AttributeName"].startswith("gsi2")
    ]
    dynamodb_client.create_table(**spec)
    key = {"pk": {"S": "T#demo#C#c1"}, "sk": {"S": "PROFILE"}}
    try:
        dynamodb_client.put_item(TableName=old.table_name, Item=key)
        provision(old, dynamodb_client=dynamodb_client)
        table = dynamodb_client.describe_table(TableName=old.table_name)["Table"]
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
        assert dynamodb_client.get_item(TableName=old.table_name, Key=key)["Item"] == key
    finally:
        delete_tables(old, dynamodb_client)


def test_ttl_enabled_as_infra_says(ddb_settings: Settings, dynamodb_client: Any) -> None:
    for name, props in _infra_tables(ddb_settings).items():
        ttl = dynamodb_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
        assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]


def test_provisioning_twice_is_a_no_op(ddb_settings: Settings, dynamodb_client: Any, operations: list[str]) -> None:
    provision(ddb_settings, dynamodb_client=dynamodb_client)
    provision(ddb_settings, dynamodb_client=dynamodb_client)
    assert operations, "the hook saw no calls at all"
    assert not MUTATING & set(operations)


def test_conditional_put(ddb_settings: Settings, dynamodb_client: Any) -> None:
    item = {"pk": {"S": "T#demo#EVENT#e1"}, "sk": {"S": "DEDUPE"}}
    put = {"TableName": ddb_settings.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
    dynamodb_client.put_item(**put)
    with pytest.raises(ClientError) as caught:
        dynamodb_client.put_item(**put)
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_transact_write_items_all_or_nothing(ddb_settings: Settings, dynamodb_client: Any) -> None:
    table = ddb_settings.table_name

    def put(sk: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": table,
                "Item": {"pk": {"S": "T#demo#C#1"}, "sk": {"S": sk}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    dynamodb_client.transact_write_items(TransactItems=[put("PROFILE"), put("FACT#1")])
    with pytest.raises(ClientError) as caught:
        dynamodb_client.transact_write_items(TransactItems=[put("FACT#2"), put("PROFILE")])
    error = caught.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    keys = dynamodb_client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "T#demo#C#1"}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in keys) == ["FACT#1", "PROFILE"]


def test_consumed_capacity_is_reported(ddb_settings: Settings, dynamodb_client: Any) -> None:
    response = dynamodb_client.put_item(
        TableName=ddb_settings.table_name,
        Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "gsi1pk": {"S": "g"}, "gsi1sk": {"S": "h"}},
        ReturnConsumedCapacity="INDEXES",
    )
    consumed = response["ConsumedCapacity"]
    assert consumed["CapacityUnits"] >= 2.0  # one for the table, one for the gsi1 copy
    assert consumed["GlobalSecondaryIndexes"]["gsi1"]["CapacityUnits"] >= 1.0
    index_hits = dynamodb_client.query(
        TableName=ddb_settings.table_name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert index_hits["Count"] == 1
    assert index_hits["ConsumedCapacity"]["CapacityUnits"] > 0


def test_endpoint_is_loopback(dynamodb_local_endpoint: str) -> None:
    assert dynamodb_local_endpoint.startswith("http://127.0.0.1:")
