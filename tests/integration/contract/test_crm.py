"""The CRM import's contract (issue 14 §5), on DynamoDB Local and on the fake: an import record a repeat never
reopens once complete, orders under their phone's digest (one copy per import), the phone owners by alias, erasure,
all tenant-bound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.crm import CrmRepository as R
from chalicelib.domain.crm_import import CrmOrder
from chalicelib.domain.facts import Alias
from tests.integration.contract.registry import covers

ORDER = CrmOrder("p" * 32, "k" * 32, "C001", "考研政治全程班", "1999.00", "2025-09-01", "full", "ci_a")


def record(import_id: str, status: str, created_at: str = "2026-12-01T10:00:05+08:00") -> dict[str, Any]:
    return {"import_id": import_id, "status": status, "created_at": created_at, "rows": 2, "orders": 2}


@covers(R.begin_crm_import, R.save_crm_import, R.get_crm_import, R.list_crm_imports)
def test_an_import_once_complete_is_never_reopened(store: Any) -> None:
    assert store.begin_crm_import("acme", record("ci_a", "staged"))
    assert store.begin_crm_import("acme", record("ci_a", "staged"))  # a re-run of a staged import may go on
    assert store.get_crm_import("acme", "ci_a")["status"] == "staged"
    store.save_crm_import("acme", {**record("ci_a", "complete"), "applied": 1})
    assert not store.begin_crm_import("acme", record("ci_a", "staged"))
    assert store.get_crm_import("acme", "ci_a") == {**record("ci_a", "complete"), "applied": 1}
    assert store.get_crm_import("beta", "ci_a") is None and store.get_crm_import("acme", "ci_b") is None
    store.save_crm_import("acme", record("ci_b", "complete", "2026-12-02T10:00:00+08:00"))
    assert [r["import_id"] for r in store.list_crm_imports("acme", limit=10)] == ["ci_b", "ci_a"]
    assert [r["import_id"] for r in store.list_crm_imports("acme", limit=1)] == ["ci_b"]
    assert store.list_crm_imports("beta", limit=10) == []


@covers(R.put_crm_orders, R.crm_orders_of, R.erase_crm_orders)
def test_orders_live_under_their_phone_one_copy_per_import(store: Any) -> None:
    other = replace(ORDER, import_id="ci_b")
    second = replace(ORDER, order_key="j" * 32, product="英语", amount="9.90")
    elsewhere = replace(ORDER, phone_digest="q" * 32)
    store.put_crm_orders("acme", [ORDER, other, second, elsewhere])
    store.put_crm_orders("acme", [ORDER])  # a re-run writes the same item again
    assert store.crm_orders_of("acme", ORDER.phone_digest) == [second, ORDER, other]
    assert store.crm_orders_of("beta", ORDER.phone_digest) == []
    assert store.erase_crm_orders("beta", [ORDER.phone_digest]) == 0
    assert store.erase_crm_orders("acme", [ORDER.phone_digest, "z" * 32]) == 3
    assert store.crm_orders_of("acme", ORDER.phone_digest) == []
    assert store.crm_orders_of("acme", elsewhere.phone_digest) == [elsewhere]


@covers(R.phone_owners)
def test_phone_owners_are_the_live_phone_aliases(store: Any) -> None:
    store.put_alias("acme", Alias("phone", "a" * 32, "c_1"))
    store.put_alias("acme", Alias("union", "b" * 32, "c_2"))
    assert store.phone_owners("acme", ["a" * 32, "b" * 32, "c" * 32]) == {"a" * 32: "c_1"}
    assert store.phone_owners("beta", ["a" * 32]) == {}
    assert store.phone_owners("acme", []) == {}
