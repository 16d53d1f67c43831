"""The customer list index (gsi2) on DynamoDB Local: what its writes cost, read from DynamoDB's own
ConsumedCapacity (ReturnConsumedCapacity=INDEXES on the store's calls), and the cursors the listing accepts.

Why here and not in the contract suite: the fake has no indexes and no capacity; these are DynamoDB's facts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bench.capacity import item_size
from chalicelib.adapters.dynamodb import customer_list
from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.cursors import encode_cursor
from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.customers import Attribution, Stage
from chalicelib.errors import InvalidError
from chalicelib.ports import CustomerFilter
from chalicelib.settings import Settings
from devstack.backfill import backfill_customer_index
from devstack.provision import provision
from tests.integration.test_store_contract import counter, customer, tenant

TID = "acme"
AT = "2026-12-01T10:00:00+08:00"
Consumed = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def store(ddb_settings: Settings) -> DynamoStore:
    return DynamoStore(configure(ddb_settings), ddb_settings.table_name)


@pytest.fixture
def consumed(store: DynamoStore) -> Iterator[Consumed]:
    """Every call the store's client makes asks for ConsumedCapacity by index; (operation, ConsumedCapacity) of
    each write is recorded."""
    records: Consumed = []
    events = store.client.meta.events

    def ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("PutItem", "UpdateItem", "TransactWriteItems") and "ConsumedCapacity" in parsed:
            cap = parsed["ConsumedCapacity"]
            records.append((model.name, cap[0] if isinstance(cap, list) else cap))

    events.register("before-parameter-build.dynamodb", ask, unique_id="test-consumed-ask")
    events.register("after-call.dynamodb", record, unique_id="test-consumed-record")
    try:
        yield records
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="test-consumed-ask")
        events.unregister("after-call.dynamodb", unique_id="test-consumed-record")


def _profile(store: DynamoStore, cid: str) -> dict[str, Any]:
    key = {"pk": {"S": k.customer_pk(TID, cid)}, "sk": {"S": k.PROFILE_SK}}
    item: dict[str, Any] = store.client.get_item(TableName=store.table, Key=key, ConsistentRead=True)["Item"]
    return item


def _big_customer(cid: str) -> Any:
    """A profile of about 950 bytes as DynamoDB sizes it (a few channel touches, as a re-added parent has)."""
    touches = tuple(Attribution(f"ch_poster_{i:02d}", "zhang", AT, "readd") for i in range(6))
    return customer(cid, AT, touches=touches, tags=frozenset({"t_vip", "t_trial"}))


def _indexes(cap: dict[str, Any]) -> dict[str, float]:
    return {name: float(v["CapacityUnits"]) for name, v in (cap.get("GlobalSecondaryIndexes") or {}).items()}


def test_creation_writes_the_list_index_once_and_a_stage_move_writes_the_profile_only(
    store: DynamoStore, consumed: Consumed
) -> None:
    store.create_customer(TID, _big_customer("c1"), counter())
    size = item_size(_profile(store, "c1"))
    assert 900 <= size <= 1024, size  # one write unit, as a real profile with some history
    [(op, put)] = [(op, cap) for op, cap in consumed if op == "PutItem"]
    assert float(put["Table"]["CapacityUnits"]) == 1.0
    assert _indexes(put) == {"gsi2": 1.0}  # the list entry, written once; nothing in gsi1

    consumed.clear()
    assert store.advance_stage(TID, "c1", to=Stage.NURTURING, from_stages=(Stage.NEW,))
    [(op, update)] = consumed
    assert op == "UpdateItem"
    assert float(update["CapacityUnits"]) == 1.0  # was 2: the profile and its gsi1 copy
    assert _indexes(update) in ({}, {"gsi2": 0.0})
    assert store.get_customer(TID, "c1").stage == Stage.NURTURING  # type: ignore[union-attr]


def test_a_profile_save_writes_no_index_entry(store: DynamoStore, consumed: Consumed) -> None:
    c = _big_customer("c1")
    store.create_customer(TID, c, counter())
    consumed.clear()
    moved = replace(c, tags=frozenset({"t_vip"}), owner_userid="li", stage=Stage.TRIAL, version=2)
    store.save_customer(TID, moved, expected_version=1)
    [(op, tx)] = consumed
    assert op == "TransactWriteItems"
    assert all(units == 0.0 for units in _indexes(tx).values()), tx
    page = store.list_customers(TID, CustomerFilter(owner_userid="li"), cursor=None, limit=5)
    assert [x.customer_id for x in page.items] == ["c1"]


def test_a_cursor_from_the_gsi1_listing_resumes_at_the_same_place(store: DynamoStore) -> None:
    """A bulk job running across the deploy holds a gsi1 cursor: it names the same key, so it still works."""
    for i in range(4):
        store.create_customer(TID, customer(f"c{i}", f"2026-12-0{1 + i}T10:00:00+08:00"), counter())
    c2 = _profile(store, "c2")
    legacy = encode_cursor({"pk": c2["pk"], "sk": c2["sk"], "gsi1pk": c2["gsi2pk"], "gsi1sk": c2["gsi2sk"]})
    page = store.list_customers(TID, CustomerFilter(), cursor=legacy, limit=5)
    assert [c.customer_id for c in page.items] == ["c1", "c0"] and page.next_cursor is None


@pytest.mark.parametrize(
    "forged",
    [
        {"sk": {"S": "ENR#pl_x"}},  # another item of the partition
        {"gsi2sk": {"S": "2030-01-01T00:00:00Z#c9"}},  # outside the added range asked for
        {"gsi2pk": {"S": "T#other#CUSTOMERS"}},  # another tenant's list
        {"gsi2sk": {"N": "1"}},  # reshaped
        {"extra": {"S": "x"}},
    ],
)
def test_a_forged_cursor_is_refused(store: DynamoStore, forged: dict[str, Any]) -> None:
    store.create_customer(TID, customer("c1", AT), counter())
    c1 = _profile(store, "c1")
    key = {a: c1[a] for a in ("pk", "sk", "gsi2pk", "gsi2sk")} | forged
    flt = CustomerFilter(added_to="2027-01-01T00:00:00Z")
    with pytest.raises(InvalidError):
        store.list_customers(TID, flt, cursor=encode_cursor(key), limit=5)


def test_rounds_that_find_nothing_answer_an_empty_page_that_carries_on(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded reads: 2 rounds of 1 key, the oldest of 4 matches; pages are empty until the walk reaches it."""
    monkeypatch.setattr(customer_list, "FILTERED_PAGE", 1)
    monkeypatch.setattr(customer_list, "MAX_QUERY_ROUNDS", 2)
    for i in range(4):
        owner = "li" if i == 0 else "zhang"
        store.create_customer(TID, customer(f"c{i}", f"2026-12-0{1 + i}T10:00:00+08:00", owner_userid=owner), counter())
    flt = CustomerFilter(owner_userid="li")
    first = store.list_customers(TID, flt, cursor=None, limit=1)
    assert first.items == [] and first.next_cursor
    second = store.list_customers(TID, flt, cursor=first.next_cursor, limit=1)
    assert [c.customer_id for c in second.items] == ["c0"]
    if second.next_cursor:  # a filtered round that stopped at its Limit cannot know it read the last key
        last = store.list_customers(TID, flt, cursor=second.next_cursor, limit=1)
        assert last.items == [] and last.next_cursor is None


def test_a_key_whose_profile_is_gone_is_skipped(store: DynamoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index is read before the profiles: one erased in between leaves no hole in the page (the next one fills
    it) and no ghost."""
    for i in range(4):
        store.create_customer(TID, customer(f"c{i}", f"2026-12-0{1 + i}T10:00:00+08:00"), counter())
    repo = store.repos.customers
    real = repo.batch_get

    def erased_meanwhile(keys: list[Any], *, consistent: bool = False) -> dict[Any, Any]:
        return {key: raw for key, raw in real(keys, consistent=consistent).items() if "#C#c2" not in key[0]}

    monkeypatch.setattr(repo, "batch_get", erased_meanwhile)
    page = store.list_customers(TID, CustomerFilter(), cursor=None, limit=2)
    assert [c.customer_id for c in page.items] == ["c3", "c1"] and page.next_cursor
    rest = store.list_customers(TID, CustomerFilter(), cursor=page.next_cursor, limit=2)
    assert [c.customer_id for c in rest.items] == ["c0"] and rest.next_cursor is None


def _to_legacy(store: DynamoStore, cid: str) -> None:
    """The profile as written before gsi2: the list keys as gsi1pk/gsi1sk."""
    store.client.update_item(
        TableName=store.table,
        Key={"pk": {"S": k.customer_pk(TID, cid)}, "sk": {"S": k.PROFILE_SK}},
        UpdateExpression="SET gsi1pk = gsi2pk, gsi1sk = gsi2sk REMOVE gsi2pk, gsi2sk",
    )


def test_the_backfill_moves_profiles_written_before_gsi2_onto_it(
    store: DynamoStore, ddb_settings: Settings, dynamodb_client: Any, consumed: Consumed
) -> None:
    store.create_tenant(tenant(TID))
    store.create_tenant(tenant("other"))
    for i in range(3):
        store.create_customer(TID, _big_customer(f"c{i}"), counter())
    store.create_customer("other", customer("x1", AT), counter())
    for cid in ("c0", "c1"):
        _to_legacy(store, cid)
    assert [c.customer_id for c in store.list_customers(TID, CustomerFilter(), cursor=None, limit=10).items] == ["c2"]
    consumed.clear()
    store.advance_stage(TID, "c0", to=Stage.NURTURING, from_stages=(Stage.NEW,))
    assert _indexes(consumed[0][1]) == {"gsi1": 1.0}  # what every legacy profile update costs until it moves

    provision(ddb_settings, dynamodb_client=dynamodb_client)  # the local stack's start moves kept data
    page = store.list_customers(TID, CustomerFilter(), cursor=None, limit=10)
    assert [c.customer_id for c in page.items] == ["c2", "c1", "c0"]  # same keys, so the same order
    assert page.items[2].stage == Stage.NURTURING
    legacy = dynamodb_client.query(
        TableName=store.table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": k.customers_gsi_pk(TID)}},
    )
    assert legacy["Items"] == []
    assert backfill_customer_index(dynamodb_client, store.table) == 0  # done: a second run moves nothing
    consumed.clear()
    store.advance_stage(TID, "c1", to=Stage.NURTURING, from_stages=(Stage.NEW,))
    assert float(consumed[0][1]["CapacityUnits"]) == 1.0
    assert [c.customer_id for c in store.list_customers("other", CustomerFilter(), cursor=None, limit=5).items] == [
        "x1"
    ]


def test_the_backfill_never_brings_back_a_customer_erased_meanwhile(store: DynamoStore, dynamodb_client: Any) -> None:
    store.create_tenant(tenant(TID))
    store.create_customer(TID, customer("c1", AT), counter())
    _to_legacy(store, "c1")
    key = {"pk": {"S": k.customer_pk(TID, "c1")}, "sk": {"S": k.PROFILE_SK}}
    real_update = dynamodb_client.update_item

    def erase_first(**kw: Any) -> Any:
        dynamodb_client.delete_item(TableName=store.table, Key=key)
        return real_update(**kw)

    class Client:
        query = dynamodb_client.query
        update_item = staticmethod(erase_first)

    assert backfill_customer_index(Client(), store.table) == 0
    assert "Item" not in dynamodb_client.get_item(TableName=store.table, Key=key)
