"""Storage for enrollment listings and the stages enrollment and silence set.

Keys (docs/data-model.md, "Enrollment listings"):
- a customer's enrollments: the ``ENR#<plan_id>`` items of the customer's partition (no new item)
- a plan's roster: ``T#<tid>#PLE#<plan_id>`` / ``<cid>``, written once per (plan, customer) before the enrollment's
  own conditional put; it holds nothing but the key. A listing reads a page of it, then the page's enrollments in
  one strongly consistent BatchGetItem (the status lives there), so a status change never writes the roster: the
  fire path's writes stay the claim and the quota. Erasure deletes the customer's roster entries with its partition.
- stage: an UpdateItem of the profile's ``stage`` and ``version`` attributes, conditional on the stage it leaves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.sop_docs import enrollment_of
from chalicelib.adapters.dynamodb.sop_table import SopTableMixin, string_attr
from chalicelib.domain.customers import Stage
from chalicelib.domain.sop import Enrollment
from chalicelib.ports import Page

_TABLE_KEY = frozenset({"pk", "sk"})
MAX_ROUNDS = 10  # a filtered page reads at most this many rounds before answering short with its cursor


def roster_keys(tid: str, customer_id: str, plan_ids: Iterable[str]) -> list[tuple[str, str]]:
    """The roster entries of one customer (what erasure deletes besides the partition)."""
    return [(k.roster_pk(tid, plan_id), customer_id) for plan_id in plan_ids]


def _cursor_in(cursor: str | None, partition: str) -> dict[str, Any] | None:
    """A cursor of this listing: a table key (pk, sk) in the partition being read (tenant and plan/customer bound)."""
    return decode_cursor(cursor, partition_attr="pk", partition=partition, attrs=_TABLE_KEY, code="invalid")


class EnrollmentStoreMixin(SopTableMixin):
    """Enrollment listings and stage moves of DynamoStore (uses ``self.client``, ``self.table``)."""

    client: Any
    table: str

    if TYPE_CHECKING:

        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...

    def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None:
        """The plan's roster entry for the customer: idempotent (the same key every run), written before the
        enrollment so no enrollment is ever missing from its plan's listing."""
        self.table_request(
            "put_item",
            Item={
                "pk": string_attr(k.roster_pk(tenant_id, enrollment.plan_id)),
                "sk": string_attr(enrollment.subject.id),
                "kind": string_attr("roster"),
            },
        )

    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool:
        """Move the customer to ``to`` only from one of ``from_stages`` (never backwards past what an order set);
        bumps ``version`` so a concurrent read-modify-write of the profile retries. False: the stage was elsewhere."""
        names = {f":f{i}": string_attr(stage.value) for i, stage in enumerate(from_stages)}
        return self.conditional(
            "update_item",
            Key={"pk": string_attr(k.customer_pk(tenant_id, customer_id)), "sk": string_attr(k.PROFILE_SK)},
            UpdateExpression="SET stage = :to, version = version + :one",
            ConditionExpression=f"attribute_exists(pk) AND stage IN ({', '.join(names)})",
            ExpressionAttributeValues={":to": string_attr(to.value), ":one": {"N": "1"}, **names},
        )

    def list_customer_enrollments(
        self, tenant_id: str, customer_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        """The customer's enrollments by plan id, optionally of one status (read, then kept or skipped here)."""
        pk = k.customer_pk(tenant_id, customer_id)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": string_attr(pk), ":p": string_attr(k.ENROLLMENT_PREFIX)},
            "ConsistentRead": True,
        }

        def rows(items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Enrollment | None]]:
            return [(_key(raw), _enrollment(raw) if _wanted(raw, status) else None) for raw in items]

        return self._pages(kwargs, _cursor_in(cursor, pk), limit, rows)

    def list_plan_enrollments(
        self, tenant_id: str, plan_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        """The plan's enrollments by customer id: a page of roster keys, then their enrollments in one consistent
        BatchGetItem; a status filter reads what it skips (≤ ``MAX_ROUNDS`` rounds, then a short page)."""
        pk = k.roster_pk(tenant_id, plan_id)

        def rows(items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Enrollment | None]]:
            keys = [(k.customer_pk(tenant_id, raw["sk"]["S"]), k.enrollment_sk(plan_id)) for raw in items]
            found = self._batch_get(keys, consistent=True)  # none for a key: erased, or a crash before its put
            return [
                (_key(raw), _enrollment(hit) if (hit := found.get(key)) and _wanted(hit, status) else None)
                for raw, key in zip(items, keys, strict=True)
            ]

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string_attr(pk)},
        }
        return self._pages(kwargs, _cursor_in(cursor, pk), limit, rows)

    def _pages(
        self,
        kwargs: dict[str, Any],
        start: dict[str, Any] | None,
        limit: int,
        rows: Callable[[list[dict[str, Any]]], list[tuple[dict[str, Any], Enrollment | None]]],
    ) -> Page:
        """Query rounds (one key more than still wanted, so a full last page says there is no more) until ``limit``
        items or ``MAX_ROUNDS``; the cursor is the key of the last item read."""
        items: list[Enrollment] = []
        last: dict[str, Any] | None = None
        for _ in range(MAX_ROUNDS):
            if start:
                kwargs["ExclusiveStartKey"] = start
            kwargs["Limit"] = limit - len(items) + 1
            resp = self.table_request("query", **kwargs)
            for key, enrollment in rows(resp.get("Items", [])):
                if enrollment is not None:
                    if len(items) == limit:
                        return Page(items, encode_cursor(last) if last else None)  # one more exists
                    items.append(enrollment)
                last = key
            start = resp.get("LastEvaluatedKey")
            if not start:
                return Page(items, None)
            if len(items) >= limit:
                break
        return Page(items, encode_cursor({"pk": start["pk"], "sk": start["sk"]}) if start else None)


def _key(raw: dict[str, Any]) -> dict[str, Any]:
    return {"pk": raw["pk"], "sk": raw["sk"]}


def _wanted(raw: dict[str, Any], status: str | None) -> bool:
    return status is None or raw["status"]["S"] == status


def _enrollment(raw: dict[str, Any]) -> Enrollment:
    return enrollment_of(json.loads(raw["doc"]["S"]))
