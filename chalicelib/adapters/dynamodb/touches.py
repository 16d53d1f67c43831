"""Buckets and the touches in them: the SOP kernel's conditional transitions.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- touch: ``T#<tid>#BKT#<bucket_id>`` / ``<kind>#<subject id>#<enrollment>#<step>#<occurrence>`` (``TouchItem``, TTL
  35 days after due, or after the next touch's due when it names one in ``nb``: an implied touch, see ``Touch``)
- bucket: ``T#<tid>#BKT#<bucket_id>`` / ``BUCKET`` (``BucketItem``; ``feeders``: the buckets whose sent touches
  imply touches here); while open it is in gsi1 at ``T#<tid>#DUE#<UTC date>`` / ``<minute>#<bucket_id>`` (sparse:
  draining removes it), which is what the backstop sweeps
- a plan version's buckets: ``T#<tid>#PLB#<plan>#<version>`` / ``<minute>#<step>`` (``PlanBucketItem``, what a
  migration walks)
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from pynamodb.connection import Connection
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import BucketItem, PlanBucketItem, SiyuItem, TouchItem
from chalicelib.adapters.dynamodb.sop_docs import touch_doc, touch_of
from chalicelib.adapters.dynamodb.sop_table import dump, ttl_after, ttl_after_minute
from chalicelib.adapters.dynamodb.timeline import TimelineRepository, touch_entry
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.sop import CUSTOMER, DROPPED, SCHEDULED, SKIPPED, Bucket, Touch
from chalicelib.domain.timeline import touch_suffix

TOUCH_TTL_DAYS = 35


def touch_sk(touch: Touch) -> str:
    return k.touch_sk(touch.subject.kind, touch.subject.id, touch.occurrence_key)


def _bucket(item: BucketItem | PlanBucketItem) -> Bucket:
    return Bucket(**json.loads(item.doc or "{}"))


def _touch(item: TouchItem) -> Touch:
    return touch_of(json.loads(item.doc or "{}"), item.state)


def _head(tenant_id: str, bucket_id: str) -> BucketItem:
    return BucketItem(pk=k.bucket_pk(tenant_id, bucket_id), sk=k.BUCKET_SK)


class TouchRepository(DynamoBase):
    """Given the connection, the table and the timeline (a customer's skipped or dropped touch goes on it)."""

    def __init__(self, connection: Connection, table_name: str, timeline: TimelineRepository) -> None:
        super().__init__(connection, table_name)
        self.timeline = timeline

    # --- buckets ------------------------------------------------------------------------------------------------

    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool:
        """Record a bucket once (True only for the first caller: only that one creates the schedule). A second,
        small item lists the bucket under its plan version, which is what a migration walks."""
        doc = dump(asdict(bucket))
        head = BucketItem(
            pk=k.bucket_pk(tenant_id, bucket.bucket_id),
            sk=k.BUCKET_SK,
            doc=doc,
            gsi1pk=k.due_buckets_pk(tenant_id, bucket.minute[:8]),
            gsi1sk=k.due_buckets_sk(bucket.minute, bucket.bucket_id),
        )
        first = self.conditional(lambda: head.save(condition=SiyuItem.pk.does_not_exist()))
        if first:
            listed = PlanBucketItem(
                pk=k.plan_buckets_pk(tenant_id, bucket.plan_id, bucket.version),
                sk=k.plan_bucket_sk(bucket.minute, bucket.step_id),
                doc=doc,
                expires_at=ttl_after_minute(bucket.minute, TOUCH_TTL_DAYS),
            )
            with translate():
                listed.save()
        return first

    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]:
        """The buckets of one plan version due at or after ``from_minute`` (UTC "YYYYMMDDHHMM")."""
        pk = k.plan_buckets_pk(tenant_id, plan_id, version)
        items, _ = self.query(PlanBucketItem, pk, SiyuItem.sk >= from_minute)
        return [_bucket(i) for i in items]

    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None:
        item = self.get(BucketItem, k.bucket_pk(tenant_id, bucket_id), k.BUCKET_SK)
        return _bucket(item) if item else None

    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None:
        """A touch joined a bucket that may have fired already: put it back where the backstop looks."""
        actions: list[Action] = [
            SiyuItem.gsi1pk.set(k.due_buckets_pk(tenant_id, bucket.minute[:8])),
            SiyuItem.gsi1sk.set(k.due_buckets_sk(bucket.minute, bucket.bucket_id)),
        ]
        head = _head(tenant_id, bucket.bucket_id)
        with translate():
            head.update(actions=actions)

    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None:
        """Take the bucket out of the open-buckets index (it fired)."""
        head = _head(tenant_id, bucket_id)
        with translate():
            head.update(actions=[SiyuItem.gsi1pk.remove(), SiyuItem.gsi1sk.remove()], condition=SiyuItem.pk.exists())

    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]:
        """The buckets still open on a UTC day due up to ``until_minute`` (what the backstop sweeps)."""
        with translate():
            upto = SiyuItem.gsi1sk <= k.due_buckets_upto(until_minute)
            items = SiyuItem.gsi1.query(k.due_buckets_pk(tenant_id, day), upto)
            return [_bucket(i) for i in items if isinstance(i, BucketItem)]

    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None:
        """Record that touches closed in bucket ``feeder`` may imply touches in this (registered) bucket."""
        head = _head(tenant_id, bucket_id)
        with translate():
            head.update(actions=[BucketItem.feeders.add({feeder})], condition=SiyuItem.pk.exists())

    # --- touches ------------------------------------------------------------------------------------------------

    def add_touch(self, tenant_id: str, touch: Touch) -> bool:
        """Schedule a touch once: the key is (subject, enrollment, step, occurrence), so a repeat is a no-op."""
        item = TouchItem(
            pk=k.bucket_pk(tenant_id, touch.bucket_id),
            sk=touch_sk(touch),
            state=touch.state,
            doc=dump(touch_doc(touch)),
            expires_at=ttl_after(touch.due_at, TOUCH_TTL_DAYS),
        )
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    def _partition(self, pk: str, *, implying: str | None = None) -> list[SiyuItem]:
        """Every item of one partition, or only the touches implying one in bucket ``implying`` (strongly
        consistent: a write made before the fire is seen by it)."""
        with translate():
            if implying is None:
                return list(SiyuItem.query(pk, consistent_read=True))
            return list(TouchItem.query(pk, consistent_read=True, filter_condition=TouchItem.nb == implying))

    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]:
        """The bucket's touches: those written in it, and those implied by sent touches of its feeder buckets
        that are not written here yet (scheduled, by definition)."""
        items = self._partition(k.bucket_pk(tenant_id, bucket_id))
        written = {i.sk: _touch(i) for i in items if isinstance(i, TouchItem)}
        head = next((i for i in items if isinstance(i, BucketItem)), None)
        out = list(written.values())
        if head is not None and head.feeders:
            step_id = json.loads(head.doc or "{}")["step_id"]
            for feeder in sorted(head.feeders):
                for item in self._partition(k.bucket_pk(tenant_id, feeder), implying=bucket_id):
                    assert isinstance(item, TouchItem)
                    implied = _touch(item).implied_next(step_id)
                    if touch_sk(implied) not in written:
                        written[touch_sk(implied)] = implied
                        out.append(implied)
        return sorted((t for t in out if state is None or t.state == state), key=lambda t: t.key)

    def still_scheduled(self, tenant_id: str, bucket_id: str, touches: list[Touch]) -> list[Touch]:
        """Those of ``touches`` still scheduled: read by key (BatchGetItem, strongly consistent); a touch with no
        item is an implied one nobody closed yet, so still scheduled."""
        pk = k.bucket_pk(tenant_id, bucket_id)
        found = self.batch_get([(pk, touch_sk(t)) for t in touches], consistent=True)
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
        actions: list[Action] = [
            TouchItem.state.set(to_state),
            TouchItem.doc.set(dump(touch_doc(updated))),
            TouchItem.kind.set(TouchItem),
            TouchItem.expires_at.set(ttl_after(next_due or touch.due_at, TOUCH_TTL_DAYS)),
        ]
        if next_bucket:
            actions.append(TouchItem.nb.set(next_bucket))
        cond: Condition = TouchItem.state == from_state
        if from_state == SCHEDULED:
            cond = cond | SiyuItem.pk.does_not_exist()
        item = TouchItem(pk=k.bucket_pk(tenant_id, touch.bucket_id), sk=touch_sk(touch))
        won = self.conditional(lambda: item.update(actions=actions, condition=cond))
        # A customer's skipped or dropped touch goes on their timeline (a sent one is logged by take_quota).
        if won and to_state in (SKIPPED, DROPPED) and touch.subject.kind == CUSTOMER:
            ref = k.touch_entry_ref(touch.subject.id, touch.occurrence_key)
            entry = touch_entry(touch, to_state, reason)
            self.timeline.put_entry(tenant_id, touch.subject.id, touch_suffix(ref), entry)
        return won
