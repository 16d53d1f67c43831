"""The repair queue of the local stack, in the table (the ``RepairQueue`` port; deployed it is SQS with a DLQ).

Why the table and not SQS locally: `make run`'s API (chalice local) and its pump are two processes, so an in-memory
queue cannot be shared; DynamoDB Local keeps the items across restarts (moto's SQS would not); and visibility is
measured on the injected Clock, so moving the stack's clock (POST /sandbox/clock) brings backoffs due as it does
schedules. SQS's contract is kept: a handed-out item is leased (a conditional update, so two runs never take the same
item), comes back after the lease unless done, and a dead item stays, with its reason, where operators can read it.
One partition holds every tenant's items: fine for one developer's stack, not meant for production volume.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime
from functools import partial

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import RepairQueueItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.repairs import RepairDelivery, RepairFormatError, RepairItem
from chalicelib.ports import Clock

LEASE_SECONDS = 120  # a run that dies holding an item gives it back after this
READY, DEAD = "ready", "dead"
DEAD_TTL_SECONDS = 14 * 86400  # dead items are kept two weeks, as SQS keeps its dead letters


class TableRepairQueue:
    def __init__(self, clock: Clock, *, lease_seconds: int = LEASE_SECONDS) -> None:
        self.clock = clock
        self.lease_seconds = lease_seconds

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def put(self, item: RepairItem, *, delay_seconds: int = 0) -> None:
        sk = f"{self._now():012d}#{secrets.token_hex(8)}"
        row = RepairQueueItem(pk=k.REPAIR_QUEUE_PK, sk=sk, visible=self._now() + delay_seconds, state=READY)
        row.doc = item.to_json()
        with translate():
            row.save()

    def receive(self, limit: int) -> list[RepairDelivery]:
        now = self._now()
        cond = (RepairQueueItem.state == READY) & (RepairQueueItem.visible <= now)
        out: list[RepairDelivery] = []
        with translate():
            rows = RepairQueueItem.query(k.REPAIR_QUEUE_PK, filter_condition=cond, consistent_read=True)
            lease: list[Action] = [
                RepairQueueItem.visible.set(now + self.lease_seconds),
                RepairQueueItem.receives.set(RepairQueueItem.receives + 1),
            ]
            for row in itertools.islice(rows, limit * 3):
                if len(out) >= limit:
                    break
                if not DynamoBase.conditional(partial(row.update, actions=lease, condition=cond)):
                    continue  # another run took it first
                try:
                    item: RepairItem | None = RepairItem.from_json(row.doc or "")
                except RepairFormatError:
                    item = None
                out.append(RepairDelivery(item, row.sk, int(row.receives), row.doc or ""))
        return out

    def done(self, delivery: RepairDelivery) -> None:
        with translate():
            RepairQueueItem(pk=k.REPAIR_QUEUE_PK, sk=delivery.receipt).delete()

    def retry(self, delivery: RepairDelivery, *, delay_seconds: int, reason: str) -> None:
        row = RepairQueueItem(pk=k.REPAIR_QUEUE_PK, sk=delivery.receipt)
        actions: list[Action] = [
            RepairQueueItem.visible.set(self._now() + delay_seconds),
            RepairQueueItem.reason.set(reason),
        ]
        DynamoBase.conditional(lambda: row.update(actions=actions, condition=RepairQueueItem.pk.exists()))

    def dead(self, delivery: RepairDelivery, *, reason: str) -> None:
        row = RepairQueueItem(pk=k.REPAIR_QUEUE_PK, sk=delivery.receipt)
        actions: list[Action] = [
            RepairQueueItem.state.set(DEAD),
            RepairQueueItem.reason.set(reason),
            RepairQueueItem.expires_at.set(datetime.fromtimestamp(self._now() + DEAD_TTL_SECONDS, UTC)),
        ]
        DynamoBase.conditional(lambda: row.update(actions=actions, condition=RepairQueueItem.pk.exists()))

    def dead_items(self, limit: int = 100) -> list[tuple[RepairItem | None, str, int]]:
        """The dead items (item, reason, receives), for operators and tests."""
        out: list[tuple[RepairItem | None, str, int]] = []
        with translate():
            for row in RepairQueueItem.query(k.REPAIR_QUEUE_PK, filter_condition=RepairQueueItem.state == DEAD):
                try:
                    item: RepairItem | None = RepairItem.from_json(row.doc or "")
                except RepairFormatError:
                    item = None
                out.append((item, row.reason or "", int(row.receives)))
                if len(out) >= limit:
                    break
        return out
