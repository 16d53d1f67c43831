"""Storage of buckets and the touches in them: the SOP kernel's conditional transitions.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- touch: ``T#<tid>#BKT#<bucket_id>`` / ``<kind>#<subject id>#<enrollment>#<step>#<occurrence>`` (TTL 35 days after
  due, or after the next touch's due when it names one in ``nb``: an implied touch, see ``Touch``)
- bucket: ``T#<tid>#BKT#<bucket_id>`` / ``BUCKET`` (``feeders``: the buckets whose sent touches imply touches
  here); while open it is in gsi1 at ``T#<tid>#DUE#<UTC date>`` / ``<minute>#<bucket_id>`` (sparse: draining
  removes it), which is what the backstop sweeps
- a plan version's buckets: ``T#<tid>#PLB#<plan>#<version>`` / ``<minute>#<step>`` (what a migration walks)
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.sop_docs import touch_doc, touch_of
from chalicelib.adapters.dynamodb.sop_table import (
    SopTableMixin,
    json_attr,
    string_attr,
    ttl_after,
    ttl_after_minute,
)
from chalicelib.adapters.dynamodb.timeline import touch_entry
from chalicelib.domain.sop import CUSTOMER, DROPPED, SCHEDULED, SKIPPED, Bucket, Touch
from chalicelib.domain.timeline import Entry, touch_suffix

TOUCH_TTL_DAYS = 35


def touch_sk(touch: Touch) -> str:
    return k.touch_sk(touch.subject.kind, touch.subject.id, touch.occurrence_key)


def _bucket_of(raw: dict[str, Any]) -> Bucket:
    return Bucket(**json.loads(raw["doc"]["S"]))


class TouchStoreMixin(SopTableMixin):
    """Bucket and touch repository methods of DynamoStore."""

    if TYPE_CHECKING:

        def put_entry(self, tenant_id: str, customer_id: str, suffix: str, entry: Entry) -> None: ...
        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...

    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool:
        """Record a bucket once (True only for the first caller: only that one creates the schedule). A second,
        small item lists the bucket under its plan version, which is what a migration walks."""
        first = self.conditional(
            "put_item",
            Item={
                "pk": string_attr(k.bucket_pk(tenant_id, bucket.bucket_id)),
                "sk": string_attr(k.BUCKET_SK),
                "kind": string_attr("bucket"),
                "doc": json_attr(asdict(bucket)),
                "gsi1pk": string_attr(k.due_buckets_pk(tenant_id, bucket.minute[:8])),
                "gsi1sk": string_attr(k.due_buckets_sk(bucket.minute, bucket.bucket_id)),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        if first:
            self.table_request(
                "put_item",
                Item={
                    "pk": string_attr(k.plan_buckets_pk(tenant_id, bucket.plan_id, bucket.version)),
                    "sk": string_attr(k.plan_bucket_sk(bucket.minute, bucket.step_id)),
                    "kind": string_attr("plan_bucket"),
                    "doc": json_attr(asdict(bucket)),
                    "expires_at": ttl_after_minute(bucket.minute, TOUCH_TTL_DAYS),
                },
            )
        return first

    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]:
        """The buckets of one plan version due at or after ``from_minute`` (UTC "YYYYMMDDHHMM")."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk >= :m",
            "ExpressionAttributeValues": {
                ":pk": string_attr(k.plan_buckets_pk(tenant_id, plan_id, version)),
                ":m": string_attr(from_minute),
            },
        }
        out: list[Bucket] = []
        while True:
            resp = self.table_request("query", **kwargs)
            out += [_bucket_of(i) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None:
        """A touch joined a bucket that may have fired already: put it back where the backstop looks."""
        self.table_request(
            "update_item",
            Key={"pk": string_attr(k.bucket_pk(tenant_id, bucket.bucket_id)), "sk": string_attr(k.BUCKET_SK)},
            UpdateExpression="SET gsi1pk = :g, gsi1sk = :s",
            ExpressionAttributeValues={
                ":g": string_attr(k.due_buckets_pk(tenant_id, bucket.minute[:8])),
                ":s": string_attr(k.due_buckets_sk(bucket.minute, bucket.bucket_id)),
            },
        )

    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None:
        key = {"pk": string_attr(k.bucket_pk(tenant_id, bucket_id)), "sk": string_attr(k.BUCKET_SK)}
        item = self.table_request("get_item", Key=key).get("Item")
        return _bucket_of(item) if item else None

    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None:
        self.table_request(
            "update_item",
            Key={"pk": string_attr(k.bucket_pk(tenant_id, bucket_id)), "sk": string_attr(k.BUCKET_SK)},
            UpdateExpression="REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk)",
        )

    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]:
        resp = self.table_request(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g AND gsi1sk <= :m",
            ExpressionAttributeValues={
                ":g": string_attr(k.due_buckets_pk(tenant_id, day)),
                ":m": string_attr(until_minute + "~"),
            },
        )
        return [_bucket_of(i) for i in resp.get("Items", [])]

    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None:
        """Record that touches closed in bucket ``feeder`` may imply touches in this (registered) bucket."""
        self.table_request(
            "update_item",
            Key={"pk": string_attr(k.bucket_pk(tenant_id, bucket_id)), "sk": string_attr(k.BUCKET_SK)},
            UpdateExpression="ADD feeders :f",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":f": {"SS": [feeder]}},
        )

    def add_touch(self, tenant_id: str, touch: Touch) -> bool:
        """Schedule a touch once: the key is (subject, enrollment, step, occurrence), so a repeat is a no-op."""
        return self.conditional(
            "put_item",
            Item={
                "pk": string_attr(k.bucket_pk(tenant_id, touch.bucket_id)),
                "sk": string_attr(touch_sk(touch)),
                "kind": string_attr("touch"),
                "state": string_attr(touch.state),
                "doc": json_attr(touch_doc(touch)),
                "expires_at": ttl_after(touch.due_at, TOUCH_TTL_DAYS),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _partition(self, pk: str, *, implying: str | None = None) -> list[dict[str, Any]]:
        """Every item of one partition, or only the touches implying one in bucket ``implying`` (strongly
        consistent: a write made before the fire is seen by it)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": string_attr(pk)},
        }
        if implying is not None:
            kwargs["FilterExpression"] = "nb = :nb"
            kwargs["ExpressionAttributeValues"][":nb"] = string_attr(implying)
        out: list[dict[str, Any]] = []
        while True:
            resp = self.table_request("query", **kwargs)
            out += resp.get("Items", [])
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]:
        """The bucket's touches: those written in it, and those implied by sent touches of its feeder buckets
        that are not written here yet (scheduled, by definition)."""
        items = self._partition(k.bucket_pk(tenant_id, bucket_id))
        written = {i["sk"]["S"]: _touch(i) for i in items if i.get("kind", {}).get("S") == "touch"}
        head = next((i for i in items if i["sk"]["S"] == k.BUCKET_SK), None)
        out = list(written.values())
        if head is not None and "feeders" in head:
            step_id = json.loads(head["doc"]["S"])["step_id"]
            for feeder in sorted(head["feeders"]["SS"]):
                for item in self._partition(k.bucket_pk(tenant_id, feeder), implying=bucket_id):
                    implied = _touch(item).implied_next(step_id)
                    if touch_sk(implied) not in written:
                        written[touch_sk(implied)] = implied
                        out.append(implied)
        return sorted((t for t in out if state is None or t.state == state), key=lambda t: t.key)

    def still_scheduled(self, tenant_id: str, bucket_id: str, touches: list[Touch]) -> list[Touch]:
        """Those of ``touches`` still scheduled: read by key (BatchGetItem, strongly consistent); a touch with no
        item is an implied one nobody closed yet, so still scheduled."""
        pk = k.bucket_pk(tenant_id, bucket_id)
        found = self._batch_get([(pk, touch_sk(t)) for t in touches], consistent=True)
        return [
            t for t in touches if found.get((pk, touch_sk(t)), {}).get("state", {}).get("S", SCHEDULED) == SCHEDULED
        ]

    def move_touch(
        self,
        tenant_id: str,
        touch: Touch,
        *,
        to_state: str,
        from_state: str,
        task_id: str | None = None,
        reason: str | None = None,
        next_bucket: str | None = None,
        next_due: str | None = None,
        next_executor: str | None = None,
    ) -> bool:
        """A guarded state transition (scheduled → sent/skipped/dropped): only one caller wins. A scheduled touch
        may be implied and not written yet; the same conditional write then creates it. Closing a touch as sent
        can name the enrollment's next touch (see ``Touch``), whose TTL the item then follows."""
        updated = replace(
            touch,
            state=to_state,
            task_id=task_id or touch.task_id,
            reason=reason,
            next_bucket=next_bucket,
            next_due=next_due,
            next_executor=next_executor,
        )
        cond = "#st = :from OR attribute_not_exists(pk)" if from_state == SCHEDULED else "#st = :from"
        update = "SET #st = :to, doc = :doc, kind = :k, expires_at = :ttl"
        values: dict[str, Any] = {
            ":to": string_attr(to_state),
            ":from": string_attr(from_state),
            ":doc": json_attr(touch_doc(updated)),
            ":k": string_attr("touch"),
            ":ttl": ttl_after(next_due or touch.due_at, TOUCH_TTL_DAYS),
        }
        if next_bucket:
            update += ", nb = :nb"
            values[":nb"] = string_attr(next_bucket)
        won = self.conditional(
            "update_item",
            Key={"pk": string_attr(k.bucket_pk(tenant_id, touch.bucket_id)), "sk": string_attr(touch_sk(touch))},
            UpdateExpression=update,
            ConditionExpression=cond,
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=values,
        )
        # A customer's skipped or dropped touch goes on their timeline (a sent one is logged by take_quota).
        if won and to_state in (SKIPPED, DROPPED) and touch.subject.kind == CUSTOMER:
            entry = touch_entry(touch, to_state, reason)
            self.put_entry(
                tenant_id, touch.subject.id, touch_suffix(f"{touch.subject.id}#{touch.occurrence_key}"), entry
            )
        return won


def _touch(item: dict[str, Any]) -> Touch:
    return touch_of(json.loads(item["doc"]["S"]), item["state"]["S"])
