"""Erasure's part in staff tasks: the customer's id out of a task's recipients and their outcome out of its synced
outcomes, together. Mixed into DynamoStore through TimelineStoreMixin; keys as in adapters/dynamodb/tasks.py (a task's
head ``TASK`` holds ``outcomes``, one character per recipient by position; ``RCPT`` beside it holds the ids)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.sop_table import SopTableMixin, string_attr
from chalicelib.adapters.dynamodb.translate import translate as _translate
from chalicelib.domain.sop import drop_outcome

RETRY = {"ConditionalCheckFailed", "TransactionConflict"}  # a transaction's cancellations worth a fresh read


class TaskErasureMixin(SopTableMixin):
    """``drop_recipient`` of DynamoStore."""

    def drop_recipient(self, tenant_id: str, task_id: str, customer_id: str) -> bool:
        """Take the customer out of a task's recipients and their character out of its synced outcomes (matched by
        position), in one transaction conditional on both as read, retried; a follow-up task about this customer
        alone is deleted whole. True if anything changed."""
        pk = k.task_pk(tenant_id, task_id)
        for _ in range(5):
            items = self.table_request(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": string_attr(pk)},
                ConsistentRead=True,
            ).get("Items", [])
            by_sk = {i["sk"]["S"]: i for i in items}
            raw, head = by_sk.get(k.TASK_RECIPIENTS_SK), by_sk.get(k.TASK_SK)
            if raw is None:
                return False
            ids = raw["ids"]["S"].split(",") if raw["ids"]["S"] else []
            if customer_id not in ids:
                return False
            rest = [i for i in ids if i != customer_id]
            if not rest and task_id.startswith("fu_"):
                self.table_request("delete_item", Key={"pk": string_attr(pk), "sk": string_attr(k.TASK_SK)})
                self.table_request("delete_item", Key={"pk": string_attr(pk), "sk": string_attr(k.TASK_RECIPIENTS_SK)})
                return True
            writes: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": string_attr(pk), "sk": string_attr(k.TASK_RECIPIENTS_SK)},
                        "UpdateExpression": "SET ids = :new",
                        "ConditionExpression": "ids = :old",
                        "ExpressionAttributeValues": {":new": string_attr(",".join(rest)), ":old": raw["ids"]},
                    }
                }
            ]
            if head is not None:  # absent only while the task is being created (recipients go first)
                doc = json.loads(head["doc"]["S"])
                doc["outcomes"] = drop_outcome(ids, str(doc.get("outcomes") or ""), customer_id)
                new_doc = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
                writes.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": string_attr(pk), "sk": string_attr(k.TASK_SK)},
                            "UpdateExpression": "SET #doc = :new, #n = :n",
                            "ConditionExpression": "#doc = :old",
                            "ExpressionAttributeNames": {"#doc": "doc", "#n": "n"},
                            "ExpressionAttributeValues": {
                                ":new": string_attr(new_doc),
                                ":old": head["doc"],
                                ":n": {"N": str(len(rest))},
                            },
                        }
                    }
                )
            if self._transact(writes):
                return True
        return False

    def _transact(self, writes: list[dict[str, Any]]) -> bool:
        """One TransactWriteItems; False if it was cancelled by a failed condition or a concurrent transaction
        (someone wrote in between: read again)."""
        try:
            self.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons") or []}
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and reasons & RETRY:
                return False
            with _translate():
                raise
        return True
