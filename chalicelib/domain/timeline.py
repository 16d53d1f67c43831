"""The customer timeline: one record of the customer's story, read newest first a page at a time.

Every timeline item lives in the customer's partition under one sort-key prefix, ``F#<epoch:010d>#…``, so a page is
one Query. Two shapes of item share it:

- an *entry item*, keyed at its own time: intake facts and tag changes (``F#<t>#<digest>``), business events (the
  same key, written beside the event's dedupe item) and skipped or dropped touches
  (``F#<t>#tch.<enrollment>.<step>.<occurrence>``);
- the *month quota item* (``F#<month end>#Q#<month>``): the customer's WeCom monthly-limit and daily-cap counters,
  keyed at the month's latest possible instant, with the month's sent touches in a list. A sent touch is appended in
  the very UpdateItem that counts it, so recording it costs the fire no write of its own.

A month item sorts after every entry it holds, so a page that reads one may hold entries older than the page's
last item: the page must read on down to the oldest of them, so that no later page holds a newer entry.

A customer's enrollment item (``ENR#<plan>``, beside them in the partition) is its own start and exit entries: the
page renders them as *derived items* keyed as if stored at ``F#<t>#enr.<enrollment>`` / ``end.<enrollment>``
(``enrollment_items``) and merges them into what it read (``merge_derived``), so a start or an exit costs no write of
its own. Only a run that leaves its item (replaced by a re-entry, or moved to another plan version) is written there
for real; a stored item wins over a derived one with the same key.
This module is pure: no clock, no storage.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.facts import Fact
from chalicelib.domain.sop import ACTIVE, COMPLETED, Enrollment

PREFIX = "F#"
QUOTA_TAG = "Q"
ENROLLED, ENDED = "enr.", "end."  # key suffixes of a run's start and exit (``F#<t>#enr.<enrollment_id>``)
ZONE_MARGIN = 14 * 3600  # the latest local offset (UTC+14): a month's last local instant is before this bound


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``time`` (epoch seconds) orders it; ``at`` is how the API shows it."""

    time: int
    type: str
    at: str
    userid: str = ""
    channel_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    ref: str = ""  # a fact's digest (what a follow-up task is derived from); not shown

    def public(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "at": self.at,
            "userid": self.userid or None,
            "channel_id": self.channel_id or None,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class TimelineItem:
    """One stored item under the timeline prefix and the entries it renders as."""

    sk: str
    entries: tuple[Entry, ...]

    @property
    def time(self) -> int:
        return time_of_sk(self.sk)


def entry_of(fact: Fact) -> Entry:
    return Entry(fact.create_time, fact.type, fact.at, fact.userid, fact.channel_id, fact.detail, fact.digest)


def epoch_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def sk_at(epoch: int, suffix: str) -> str:
    return f"{PREFIX}{max(epoch, 0):010d}#{suffix}"


def time_of_sk(sk: str) -> int:
    return int(sk[len(PREFIX) : len(PREFIX) + 10])


def bound_sk(epoch: int) -> str:
    """The exclusive upper bound of every item keyed before ``epoch``."""
    return f"{PREFIX}{max(epoch, 0):010d}"


def month_end_epoch(month: str) -> int:
    """The last instant of a local month ("YYYY-MM") in any time zone: month items are keyed there."""
    year, mon = int(month[:4]), int(month[5:7])
    days = calendar.monthrange(year, mon)[1]
    return calendar.timegm((year, mon, days, 23, 59, 59, 0, 0, 0)) + ZONE_MARGIN


def month_sk(month: str, tag: str) -> str:
    return sk_at(month_end_epoch(month), f"{tag}#{month}")


def is_month_item(sk: str) -> bool:
    return sk[len(PREFIX) + 11 : len(PREFIX) + 13] == f"{QUOTA_TAG}#"


def touch_suffix(touch_key: str) -> str:
    """An entry item's key suffix for a touch (its key without the customer id: that is the partition)."""
    return "tch." + touch_key.split("#", 1)[1].replace("#", ".")


def lowest_entry(items: list[TimelineItem]) -> int | None:
    """The oldest entry time held by month items among ``items`` (None without any)."""
    times = [e.time for i in items if is_month_item(i.sk) for e in i.entries]
    return min(times) if times else None


def ordered(items: list[TimelineItem], *, before: int | None = None) -> list[Entry]:
    """Every entry of a page, newest first (a stable order for equal times), below ``before`` if given."""
    entries = [e for i in items for e in i.entries if before is None or e.time < before]
    return sorted(entries, key=lambda e: (e.time, e.type, json.dumps(e.detail, sort_keys=True)), reverse=True)


def touch_entry(
    bucket_id: str, touch: str, due_at: str, outcome: str, reason: str | None = None, *, last: bool = False
) -> Entry:
    """A touch's entry (``touch``: its key without the customer id); plan, version and step come from the bucket."""
    plan_id, version, step_id = plan_of_bucket(bucket_id)
    detail: dict[str, Any] = {"plan_id": plan_id, "version": version, "step_id": step_id, "outcome": outcome}
    if reason:
        detail["reason"] = reason
    if last:
        detail["completes"] = True
    detail.update({"bucket": bucket_id, "touch": touch})
    return Entry(time=epoch_of(due_at), type="touch", at=due_at, detail=detail)


def sent_record(bucket_id: str, touch: str, due_at: str, *, last: bool) -> str:
    """A sent touch as the quota item keeps it: ``due|bucket|enrollment|occurrence|1 if it completes`` (the step is
    the bucket's), under 100 bytes, so a month of WeCom's 4 mass messages keeps the item, and the write that counts
    each, within 1 KB."""
    enrollment, _, occurrence = touch.split("#")
    return "|".join((due_at, bucket_id, enrollment, occurrence, "1" if last else ""))


def sent_entry(record: str) -> Entry:
    due_at, bucket_id, enrollment, occurrence, last = record.split("|")
    step_id = plan_of_bucket(bucket_id)[2]
    return touch_entry(bucket_id, f"{enrollment}#{step_id}#{occurrence}", due_at, "sent", last=last == "1")


def started_entry(e: Enrollment) -> Entry:
    """A run's start ("enrolled"), as it was while active: the version it started on, its source."""
    detail: dict[str, Any] = {"plan_id": e.plan_id, "version": e.version, "enrollment_id": e.enrollment_id}
    detail["source"] = e.source
    at = e.enrolled_at
    return Entry(time=epoch_of(at), type="enrolled", at=at, detail=detail, ref=ENROLLED + e.enrollment_id)


def ended_entry(e: Enrollment) -> Entry | None:
    """A run's exit ("enrollment_ended"), None while active or once completed (the last step's sent touch says
    it: the fire path writes nothing of its own for the timeline)."""
    if e.status in (ACTIVE, COMPLETED):
        return None
    at = e.ended_at or e.enrolled_at
    detail: dict[str, Any] = {"plan_id": e.plan_id, "version": e.version, "enrollment_id": e.enrollment_id}
    detail.update({"status": e.status, "reason": e.exit_reason})
    return Entry(time=epoch_of(at), type="enrollment_ended", at=at, detail=detail, ref=ENDED + e.enrollment_id)


def enrollment_items(e: Enrollment) -> list[TimelineItem]:
    """The derived timeline items of a customer's enrollment item: its start and, after an exit, its end, each keyed
    where the entry item that used to be written for it was (``F#<t>#enr.<id>`` / ``end.<id>``)."""
    entries = [started_entry(e), ended_entry(e)]
    return [TimelineItem(sk_at(x.time, x.ref), (x,)) for x in entries if x is not None]


def merge_derived(
    items: list[TimelineItem],
    derived: list[TimelineItem],
    *,
    below: str,
    above: str,
    limit: int | None,
    more: bool,
) -> tuple[list[TimelineItem], bool]:
    """Stored ``items`` (newest first, ``above`` <= sk < ``below``, ``more``: more may follow the last) with the
    ``derived`` items that fall in the same stretch: those below the last stored item when more may follow belong
    to a later page. A stored item wins over a derived one with its key (a run written for real, or an entry item
    from before derived ones). At most ``limit`` items; the flag is raised when some were cut."""
    held = {i.sk for i in items}
    floor = items[-1].sk if more and items else None
    extra = [d for d in derived if above <= d.sk < below and (floor is None or d.sk > floor) and d.sk not in held]
    merged = sorted(items + extra, key=lambda i: i.sk, reverse=True)
    if limit is not None and len(merged) > limit:
        return merged[:limit], True
    return merged, more


def follow_up_task_id(dedupe_key: str) -> str:
    """A follow-up task's id: derived from what caused it (a reply's event digest), so a repeat makes no second."""
    return f"fu_{hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]}"


def plan_of_bucket(bucket_id: str) -> tuple[str, int, str]:
    """(plan_id, version, step_id) of a bucket id ``<plan>.<version>.<step>.<minute>``."""
    plan_id, version, rest = bucket_id.split(".", 2)
    return plan_id, int(version), rest.rsplit(".", 1)[0]
