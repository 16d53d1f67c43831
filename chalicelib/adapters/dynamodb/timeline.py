"""The customer timeline and the month quota item; see docs/data-model.md, "Timeline".

Keys (all in the customer's partition ``T#<tid>#C#<cid>``, under the one prefix ``F#``, see domain/timeline.py):
- an entry item: ``F#<time:010d>#<suffix>`` (intake facts, tag changes, business events, skipped touches, and the
  start and exit of a run that left its enrollment item), one ``doc`` as facts have (``FactItem``);
- the month quota item: ``F#<month end>#Q#<YYYY-MM>`` (``QuotaItem``), counters ``m`` / ``d#…`` and list ``tl`` of
  sent touches.
A customer's enrollment items (``ENR#<plan>``, same partition) are their own start and exit entries: a page reads
them in one more small Query and merges their derived items in (domain/timeline.py, ``merge_derived``), so an
enrollment or an exit writes nothing here (1 WCU each saved). A run that leaves its item keeps its entries as real
items (``log_enrollment``): the one a re-entry replaces, and the start of one a migration moves to another version.
The timeline also renders the task of a sent touch: ``touch_tasks`` and ``task_heads`` read the SOP's touch and task
items in one BatchGetItem each (the base's ``batch_get``).
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import EnrollmentItem, FactItem, QuotaItem, SiyuItem, TaskItem
from chalicelib.adapters.dynamodb.sop_docs import enrollment_of
from chalicelib.adapters.dynamodb.tasks import task_of
from chalicelib.domain import timeline as tl
from chalicelib.domain.facts import Fact
from chalicelib.domain.sop import ACTIVE, COMPLETED, Enrollment, StaffTask, Touch
from chalicelib.domain.timeline import Entry, TimelineItem


def _below(bound: str) -> str:
    """The greatest key string that still sorts before ``bound`` among ASCII keys (BETWEEN is inclusive)."""
    return bound[:-1] + chr(ord(bound[-1]) - 1) + "\x7f"


def item_entries(item: SiyuItem) -> tuple[Entry, ...]:
    """The entries one timeline item renders as: a fact is one, a month item one per list element."""
    if isinstance(item, QuotaItem):
        return tuple(tl.sent_entry(str(e)) for e in item.tl or ())
    if not item.doc:
        return ()
    data = json.loads(item.doc)
    return (
        Entry(
            time=tl.time_of_sk(item.sk),
            type=data.get("type", ""),
            at=data.get("at", ""),
            userid=data.get("userid", ""),
            channel_id=data.get("channel_id", ""),
            detail=data.get("detail", {}),
            ref=item.sk.split("#", 2)[2],
        ),
    )


def touch_entry(touch: Touch, outcome: str, reason: str | None = None, *, last: bool = False) -> Entry:
    return tl.touch_entry(touch.bucket_id, touch.occurrence_key, touch.due_at, outcome, reason, last=last)


class TimelineRepository(DynamoBase):
    def timeline_items(
        self, tenant_id: str, customer_id: str, *, below: str, above: str = tl.PREFIX, limit: int | None = None
    ) -> tuple[list[TimelineItem], bool]:
        """Timeline items with ``above`` <= sk < ``below``, newest first: one Query (with ``limit``), or every
        such item (without), merged with the items derived from the customer's enrollment items (one more Query: a
        customer has a handful). The flag says whether more items may follow below the last one."""
        pk = k.customer_pk(tenant_id, customer_id)
        items, last = self.query(SiyuItem, pk, SiyuItem.sk.between(above, _below(below)), forward=False, limit=limit)
        stored = [TimelineItem(i.sk, item_entries(i)) for i in items]
        more = limit is not None and bool(last)
        derived = [d for e in self._enrollments(pk) for d in tl.enrollment_items(e)]
        return tl.merge_derived(stored, derived, below=below, above=above, limit=limit, more=more)

    def _enrollments(self, pk: str) -> list[Enrollment]:
        """The enrollments in a customer's partition (``ENR#…``): the timeline's derived start and exit entries."""
        items, _ = self.query(EnrollmentItem, pk, SiyuItem.sk.startswith(k.ENROLLMENT_PREFIX))
        return [enrollment_of(json.loads(i.doc or "{}")) for i in items]

    def put_entry(self, tenant_id: str, customer_id: str, suffix: str, entry: Entry, *, once: bool = False) -> bool:
        """One entry item (PutItem: callers record only writes they won, and a repeat of the same entry rewrites the
        same key). With ``once``, only if the key is free: False when an entry was there (it stays)."""
        data: dict[str, Any] = {"type": entry.type, "at": entry.at, "userid": entry.userid}
        data.update({"channel_id": entry.channel_id, "detail": entry.detail})
        doc = json.dumps(
            {n: v for n, v in data.items() if v not in ("", {})}, ensure_ascii=False, separators=(",", ":")
        )
        item = FactItem(pk=k.customer_pk(tenant_id, customer_id), sk=tl.sk_at(entry.time, suffix), doc=doc)
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist() if once else None))

    def log_enrollment(self, tenant_id: str, e: Enrollment) -> None:
        """Write one entry of a run as a real item: its start while ``e`` is active (only if none is there: the first
        written keeps the version the run started on), else its exit; a completion writes nothing (the last step's
        sent touch says it). Only for a run that leaves its enrollment item, which otherwise renders both."""
        if e.status == COMPLETED:
            return
        entry = tl.started_entry(e) if e.status == ACTIVE else tl.ended_entry(e)
        if entry is not None:
            self.put_entry(tenant_id, e.customer_id, entry.ref, entry, once=e.status == ACTIVE)

    def touch_tasks(self, tenant_id: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The task id of each (bucket_id, ``<customer_id>#<enrollment>#<step>#<occurrence>``) that has one: one
        BatchGetItem for a page's touches (their sort keys are the customer subject's, keys.touch_sk)."""
        by_key = {(k.bucket_pk(tenant_id, b), k.touch_sk("customer", *ref.split("#", 1))): (b, ref) for b, ref in refs}
        found = self.batch_get(list(by_key))
        out: dict[tuple[str, str], str] = {}
        for key, raw in found.items():
            task_id = json.loads(raw.get("doc", {}).get("S", "{}")).get("task_id")
            if task_id:
                out[by_key[key]] = task_id
        return out

    def task_heads(self, tenant_id: str, task_ids: list[str]) -> dict[str, StaffTask]:
        """Task heads without their recipients: one BatchGetItem."""
        found = self.batch_get([(k.task_pk(tenant_id, t), k.TASK_SK) for t in task_ids])
        heads = (task_of(TaskItem.from_raw_data(raw), None) for raw in found.values())
        return {t.task_id: t for t in heads}

    def timeline(self, tenant_id: str, customer_id: str, *, limit: int) -> list[Fact]:
        """The customer's facts alone (no month items), newest first: for operators and tests."""
        items, _ = self.timeline_items(tenant_id, customer_id, below=tl.PREFIX + "~", limit=limit)
        return [
            Fact(tenant_id, customer_id, e.time, i.sk.split("#", 2)[2], e.type, e.at, e.userid, e.channel_id, e.detail)
            for i in items
            if not tl.is_month_item(i.sk)
            for e in i.entries
        ]

    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int | None,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None:
        """Count one touch against the customer's WeCom monthly receive limit and, for capped content types, the
        daily cap, in one conditional write on the month's item. None if counted, else the rule that refused
        ("cap" or "monthly_limit"). The month's item is a timeline item: the same write appends ``touch`` as sent
        (``last``: its step completes the enrollment), so the timeline costs the fire no write of its own. A touch
        counted before (a fire that died before claiming it, judged again) is not counted twice: None.
        ``month_cap`` None: the touch is no mass message (a Moments post): only its ``day_key`` counter counts."""
        item = QuotaItem(pk=k.customer_pk(tenant_id, customer_id), sk=tl.month_sk(month, tl.QUOTA_TAG))
        actions: list[Any] = [QuotaItem.kind.set(QuotaItem)]
        cond: Any = None
        if month_cap is not None:
            actions.append(QuotaItem.m.add(1))
            cond = QuotaItem.m.does_not_exist() | (QuotaItem.m < month_cap)
        if day_key is not None and day_cap is not None:
            day = Path(k.quota_day_attr(day_key))
            actions.append(day.add(1))
            within = day.does_not_exist() | (day < day_cap)
            cond = within if cond is None else cond & within
        record = None
        if touch is not None:
            record = tl.sent_record(touch.bucket_id, touch.occurrence_key, touch.due_at, last=last)
            actions.append(QuotaItem.tl.set((QuotaItem.tl | []).append([record])))
            fresh = QuotaItem.tl.does_not_exist() | ~QuotaItem.tl.contains(record)
            cond = fresh if cond is None else cond & fresh
        if self.conditional(lambda: item.update(actions=actions, condition=cond)):
            return None
        held = self.get(QuotaItem, item.pk, item.sk, consistent=True)
        if held is not None and record is not None and record in (held.tl or []):
            return None  # counted already, by an earlier judgement of this very touch
        full = held is not None and month_cap is not None and int(held.m or 0) >= month_cap
        return "monthly_limit" if full else "cap"
