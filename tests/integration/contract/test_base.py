"""The storage base on DynamoDB Local: batch reads of any size that never report a throttled key as missing,
cursor pages bound to their partition, conditional writes, transactions, and the walk over items of every kind."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import ChannelItem, SiyuItem, StaffItem, TagGroupItem, configure
from chalicelib.errors import ConflictError, InvalidError, UpstreamError
from chalicelib.settings import Settings

PK = "T#acme"


@pytest.fixture
def base(ddb_settings: Settings) -> DynamoBase:
    return DynamoBase(configure(ddb_settings), ddb_settings.table_name)


def _staff(n: int) -> StaffItem:
    return StaffItem(pk=PK, sk=f"STAFF#u{n:03d}", doc="{}")


def test_a_batch_read_takes_any_number_of_keys_of_any_kind(base: DynamoBase) -> None:
    for n in range(130):
        _staff(n).save()
    TagGroupItem(pk=PK, sk="TAGGROUP#g1", doc="{}").save()
    keys = [(PK, f"STAFF#u{n:03d}") for n in range(140)] + [(PK, "TAGGROUP#g1"), (PK, "STAFF#u000")]
    found = base.batch_get(keys)
    assert len(found) == 131 and (PK, "STAFF#u139") not in found
    assert isinstance(SiyuItem.from_raw_data(found[(PK, "TAGGROUP#g1")]), TagGroupItem)
    assert base.batch_get([]) == {}


def test_a_throttled_batch_read_falls_back_to_single_reads(base: DynamoBase, monkeypatch: Any) -> None:
    _staff(1).save()
    calls: list[int] = []

    def throttled(**kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}

    monkeypatch.setattr(base.client, "batch_get_item", throttled)
    monkeypatch.setattr("chalicelib.adapters.dynamodb.base.time.sleep", lambda s: None)
    assert list(base.batch_get([(PK, "STAFF#u001"), (PK, "STAFF#u002")])) == [(PK, "STAFF#u001")]
    assert len(calls) == 4


def test_gets_and_queries_read_models_and_raw_items(base: DynamoBase) -> None:
    for n in range(5):
        _staff(n).save()
    assert base.get(StaffItem, PK, "STAFF#u001") is not None and base.get(StaffItem, PK, "STAFF#u009") is None
    raw = base.get_raw(PK, "STAFF#u001", consistent=True)
    assert raw is not None and raw["kind"] == {"S": "staff"}
    assert base.get_raw(PK, "STAFF#u009") is None
    first, more = base.query(StaffItem, PK, StaffItem.sk.startswith("STAFF#"), limit=2)
    assert [i.sk for i in first] == ["STAFF#u000", "STAFF#u001"] and more is not None
    rest, more = base.query(StaffItem, PK, StaffItem.sk.startswith("STAFF#"), start=more, forward=False)
    assert [i.sk for i in rest] == ["STAFF#u000"] and more is None  # backwards from u001


def test_query_pages_follow_cursors_bound_to_their_partition(base: DynamoBase) -> None:
    for n in range(7):
        ChannelItem(pk=PK, sk=f"CH#ch_{n}", doc="{}", version=n % 3).save()
    seen, cursor = [], None
    while True:
        raws, cursor = base.query_page(ChannelItem, PK, ChannelItem.sk.startswith("CH#"), cursor=cursor, limit=3)
        seen += [r["sk"]["S"] for r in raws]
        if cursor is None:
            break
    assert seen == [f"CH#ch_{n}" for n in range(7)]
    raws, cursor = base.query_page(ChannelItem, PK, cursor=None, limit=2, filter_condition=ChannelItem.version == 0)
    assert [r["sk"]["S"] for r in raws] == ["CH#ch_0", "CH#ch_3"] and cursor is not None
    raws, cursor = base.query_page(ChannelItem, PK, cursor=cursor, limit=2, filter_condition=ChannelItem.version == 0)
    assert [r["sk"]["S"] for r in raws] == ["CH#ch_6"] and cursor is None
    _, other = base.query_page(ChannelItem, PK, cursor=None, limit=1)
    with pytest.raises(InvalidError):
        base.query_page(ChannelItem, "T#other", cursor=other, limit=1)


def test_conditional_writes_answer_and_transactions_are_all_or_nothing(base: DynamoBase) -> None:
    new = SiyuItem.pk.does_not_exist()
    assert base.conditional(lambda: _staff(1).save(condition=new))
    assert not base.conditional(lambda: _staff(1).save(condition=new))
    with pytest.raises(ConflictError, match="already there"), base.transaction("already there") as tx:
        tx.save(_staff(2), condition=new)
        tx.save(_staff(1), condition=new)
    assert base.get(StaffItem, PK, "STAFF#u002") is None  # nothing of a cancelled transaction is written
    with base.transact_get() as got:
        one, two = got.get(StaffItem, PK, "STAFF#u001"), got.get(StaffItem, PK, "STAFF#u002")
    assert one.get().sk == "STAFF#u001"
    with pytest.raises(StaffItem.DoesNotExist):
        two.get()


def test_the_walk_sees_every_kind_and_batch_deletes_take_any_number(base: DynamoBase) -> None:
    cpk = "T#acme#C#c1"
    for n in range(30):
        base.client.put_item(
            TableName=base.table, Item={"pk": {"S": cpk}, "sk": {"S": f"X#{n:02d}"}, "kind": {"S": "x"}}
        )
    raws, start = base.walk(cpk, prefix="X#1", keys_only=True)
    assert [r["sk"]["S"] for r in raws] == [f"X#{n}" for n in range(10, 20)] and set(raws[0]) == {"pk", "sk"}
    page, start = base.walk(cpk, limit=25)
    assert len(page) == 25 and start is not None and page[0]["kind"] == {"S": "x"}
    base.batch_delete([(cpk, f"X#{n:02d}") for n in range(30)])
    assert base.walk(cpk) == ([], None)


def test_failures_other_than_conditions_are_upstream_errors(ddb_settings: Settings) -> None:
    broken = DynamoBase(configure(ddb_settings), "no-such-table")
    with pytest.raises(UpstreamError):
        broken.get_raw(PK, "TENANT")
    with pytest.raises(UpstreamError):
        broken.batch_get([(PK, "TENANT")])
