"""In-memory customer timeline and erasure walk, with the same contract as TimelineRepository and
ErasureRepository (adapters/dynamodb/timeline.py, erasure.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.domain import timeline as tl
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.sop import ACTIVE, COMPLETED, CUSTOMER, Enrollment, StaffTask, Touch
from chalicelib.domain.timeline import Entry, TimelineItem


class FakeTimelineStoreMixin:
    lock: Any
    customers: dict[tuple[str, str], Any]
    facts: dict[tuple[str, str], dict[tuple[int, str], Fact]]
    aliases: dict[tuple[str, str, str], Alias]
    counters: dict[tuple[str, str, str], dict[str, int]]

    if TYPE_CHECKING:

        def _roster(self) -> set[tuple[str, str, str]]: ...  # provided by the other fake mixins

        def _erase_points(self, tenant_id: str, customer_id: str, budget: int = ...) -> int: ...  # FakePointsStoreMixin

        def _sop(self) -> dict[str, dict[Any, Any]]:
            raise NotImplementedError

        def _timers(self) -> dict[Any, Any]:
            raise NotImplementedError

        def _events(self) -> dict[str, dict[Any, Any]]:
            raise NotImplementedError

    def _months(self) -> dict[tuple[str, str], dict[str, list[Entry]]]:
        """Timeline items other than intake facts, by customer and sort key: entry items and month quota items."""
        if not hasattr(self, "_month_items"):
            self._month_items: dict[tuple[str, str], dict[str, list[Entry]]] = {}
        return self._month_items

    def _referrals(self) -> dict[tuple[str, str], str]:
        """The referral link item of each customer partition: (tenant, customer) -> referral code id."""
        if not hasattr(self, "_referral_links"):
            self._referral_links: dict[tuple[str, str], str] = {}
        return self._referral_links

    def claim_referral_code(self, tenant_id: str, customer_id: str, channel_id: str) -> str:
        with self.lock:
            return self._referrals().setdefault((tenant_id, customer_id), channel_id)

    def referral_code_of(self, tenant_id: str, customer_id: str) -> str | None:
        with self.lock:
            return self._referrals().get((tenant_id, customer_id))

    def _items_of(self, tenant_id: str, customer_id: str) -> list[TimelineItem]:
        """Stored items, and the items derived from the customer's enrollments (a stored item wins over a derived
        one with its key), as TimelineRepository.timeline_items merges them."""
        items = [
            TimelineItem(k.fact_sk(t, d), (Entry(t, f.type, f.at, f.userid, f.channel_id, f.detail, d),))
            for (t, d), f in self.facts.get((tenant_id, customer_id), {}).items()
        ]
        items += [TimelineItem(sk, tuple(e)) for sk, e in self._months().get((tenant_id, customer_id), {}).items()]
        held = {i.sk for i in items}
        enrollments = self._sop()["enrollments"]
        runs = [e for (t, c, _), e in enrollments.items() if (t, c) == (tenant_id, customer_id)]
        derived = [d for e in runs if e.subject.kind == CUSTOMER for d in tl.enrollment_items(e)]
        items += [d for d in derived if d.sk not in held]
        return sorted(items, key=lambda i: i.sk, reverse=True)

    def timeline_items(
        self, tenant_id: str, customer_id: str, *, below: str, above: str = tl.PREFIX, limit: int | None = None
    ) -> tuple[list[TimelineItem], bool]:
        inside = [i for i in self._items_of(tenant_id, customer_id) if above <= i.sk < below]
        if limit is None or len(inside) <= limit:
            return inside, False
        return inside[:limit], True

    def timeline(self, tenant_id: str, customer_id: str, *, limit: int) -> list[Fact]:
        items = [i for i in self._items_of(tenant_id, customer_id) if not tl.is_month_item(i.sk)][:limit]
        return [
            Fact(tenant_id, customer_id, e.time, i.sk.split("#", 2)[2], e.type, e.at, e.userid, e.channel_id, e.detail)
            for i in items
            for e in i.entries
        ]

    def put_entry(self, tenant_id: str, customer_id: str, suffix: str, entry: Entry, *, once: bool = False) -> bool:
        with self.lock:
            held = self._months().setdefault((tenant_id, customer_id), {})
            sk = tl.sk_at(entry.time, suffix)
            if once and sk in held:
                return False
            held[sk] = [replace(entry, ref=suffix)]
            return True

    def log_enrollment(self, tenant_id: str, e: Enrollment) -> None:
        if e.status == COMPLETED:
            return
        entry = tl.started_entry(e) if e.status == ACTIVE else tl.ended_entry(e)
        if entry is not None:
            self.put_entry(tenant_id, e.customer_id, entry.ref, entry, once=e.status == ACTIVE)

    def _quota_entry(self, tenant_id: str, customer_id: str, month: str, touch: Touch, last: bool) -> None:
        months = self._months().setdefault((tenant_id, customer_id), {})
        record = tl.sent_record(touch.bucket_id, touch.occurrence_key, touch.due_at, last=last)
        months.setdefault(tl.month_sk(month, tl.QUOTA_TAG), []).append(tl.sent_entry(record))

    def _quota_has(self, tenant_id: str, customer_id: str, month: str, touch: Touch, last: bool) -> bool:
        """Whether the month's quota item records ``touch`` as sent already."""
        months = self._months().get((tenant_id, customer_id), {})
        record = tl.sent_record(touch.bucket_id, touch.occurrence_key, touch.due_at, last=last)
        return tl.sent_entry(record) in months.get(tl.month_sk(month, tl.QUOTA_TAG), [])

    def touch_tasks(self, tenant_id: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        out = {}
        for bucket_id, ref in refs:  # ref: <customer_id>#<enrollment>#<step>#<occurrence>
            touch = self._sop()["touches"].get((tenant_id, bucket_id, f"customer#{ref}"))
            if touch is not None and touch.task_id:
                out[(bucket_id, ref)] = touch.task_id
        return out

    def task_heads(self, tenant_id: str, task_ids: list[str]) -> dict[str, StaffTask]:
        tasks = self._sop()["tasks"]
        return {t: tasks[(tenant_id, t)] for t in task_ids if (tenant_id, t) in tasks}

    # --- erasure ----------------------------------------------------------------------------------------------

    def rename_counter(self, tenant_id: str, userid: str, date: str, old: str, new: str) -> bool:
        with self.lock:
            row = self.counters.get((tenant_id, userid, date), {})
            if old not in row:
                return False
            row[new] = row.get(new, 0) + row.pop(old)
            return True

    def erase_touches(self, tenant_id: str, customer_id: str, bucket_ids: list[str]) -> tuple[int, set[str]]:
        with self.lock:
            touches = self._sop()["touches"]
            gone = [key for key in touches if key[0] == tenant_id and key[1] in bucket_ids]
            gone = [key for key in gone if key[2].startswith(f"customer#{customer_id}#")]
            tasks = {touches[key].task_id for key in gone if touches[key].task_id}
            for key in gone:
                del touches[key]
            return len(gone), tasks

    def drop_recipient(self, tenant_id: str, task_id: str, customer_id: str) -> bool:
        with self.lock:
            task = self._sop()["tasks"].get((tenant_id, task_id))
            if task is None or customer_id not in task.customer_ids:
                return False
            rest = task.without(customer_id)
            if not rest.customer_ids and task_id.startswith("fu_"):
                del self._sop()["tasks"][(tenant_id, task_id)]
            else:
                self._sop()["tasks"][(tenant_id, task_id)] = rest
            return True

    def erase_customer(
        self, tenant_id: str, customer_id: str, *, tombstones: list[Alias], max_items: int = 1_000_000
    ) -> int:
        with self.lock:
            deleted = 0
            sop, events = self._sop(), self._events()["facts"]
            hot = self._hot()  # type: ignore[attr-defined]  # the hot state (its partition's HOT item)
            tables: list[dict[Any, Any]] = [events, sop["enrollments"], sop["caps"], self._timers(), hot]
            for table in tables:
                for key in [key for key in table if key[:2] == (tenant_id, customer_id)]:
                    if deleted >= max_items:
                        return -1 - deleted
                    del table[key]
                    deleted += 1
            partitions: list[dict[Any, Any]] = [
                self.facts.get((tenant_id, customer_id), {}),
                self._months().get((tenant_id, customer_id), {}),
            ]
            roster = self._roster()  # the plans' listings name the customer too
            for entry in [r for r in roster if r[0] == tenant_id and r[2] == customer_id]:
                roster.discard(entry)
                deleted += 1
            if (tenant_id, customer_id) in self._referrals():
                if deleted >= max_items:
                    return -1 - deleted
                del self._referrals()[(tenant_id, customer_id)]
                deleted += 1
            for held in partitions:
                for item_key in list(held):
                    if deleted >= max_items:
                        return -1 - deleted
                    del held[item_key]
                    deleted += 1
            firsts = self._mx()["firsts"]  # type: ignore[attr-defined]  # their metric markers (the partition's MF#)
            for key in [key for key in firsts if key[:2] == (tenant_id, customer_id)]:
                if deleted >= max_items:
                    return -1 - deleted
                del firsts[key]
                deleted += 1
            points = self._erase_points(tenant_id, customer_id, max_items - deleted)  # with their board entries
            if points < 0:
                return -1 - (deleted - 1 - points)
            deleted += points
            self.facts.pop((tenant_id, customer_id), None)  # an empty partition is no partition
            self._months().pop((tenant_id, customer_id), None)
            for a in tombstones:
                self.aliases[(tenant_id, a.kind, a.digest)] = Alias(a.kind, a.digest, "", a.erased_at)
            deleted += 1 if self.customers.pop((tenant_id, customer_id), None) else 0
            return deleted
