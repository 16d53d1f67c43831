"""Erasure's part in staff tasks (for ``StaffTaskRepository.drop_recipient``): the customer's id out of a task's
recipients and their outcome out of its synced outcomes, together. Keys as in tasks.py (a task's head ``TASK`` holds
``outcomes``, one character per recipient by position; ``RCPT`` beside it holds the ids)."""

from __future__ import annotations

import json

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.models import TaskItem, TaskRecipientsItem
from chalicelib.adapters.dynamodb.sop_table import dump
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.sop import drop_outcome

RETRY = {"ConditionalCheckFailed", "TransactionConflict"}  # a transaction's cancellations worth a fresh read


def drop_once(
    connection: Connection,
    head: TaskItem | None,
    recipients: TaskRecipientsItem | None,
    task_id: str,
    customer_id: str,
) -> bool | None:
    """One attempt on the task as read: False if the customer is not a recipient, True once dropped, None when a
    concurrent write got in between (read again)."""
    if recipients is None:
        return False
    ids = recipients.ids.split(",") if recipients.ids else []
    if customer_id not in ids:
        return False
    rest = [i for i in ids if i != customer_id]
    if not rest and task_id.startswith("fu_"):  # a follow-up about this customer alone goes whole
        with translate():
            TaskItem(pk=recipients.pk, sk=k.TASK_SK).delete()
            recipients.delete()
        return True
    try:
        with TransactWrite(connection=connection) as tx:
            tx.update(
                TaskRecipientsItem(pk=recipients.pk, sk=recipients.sk),
                actions=[TaskRecipientsItem.ids.set(",".join(rest))],
                condition=TaskRecipientsItem.ids == recipients.ids,
            )
            if head is not None:  # absent only while the task is being created (recipients go first)
                doc = json.loads(head.doc or "{}")
                doc["outcomes"] = drop_outcome(ids, str(doc.get("outcomes") or ""), customer_id)
                tx.update(
                    TaskItem(pk=head.pk, sk=head.sk),
                    actions=[TaskItem.doc.set(dump(doc)), TaskItem.n.set(len(rest))],
                    condition=TaskItem.doc == head.doc,
                )
    except TransactWriteError as exc:
        if {r.code for r in exc.cancellation_reasons or [] if r is not None} & RETRY:
            return None
        with translate():
            raise
    return True
