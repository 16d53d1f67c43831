"""The customer timeline: one record of the customer's story, read newest first a page at a time.

Every timeline item lives in the customer's partition under one sort-key prefix, ``F#<epoch:010d>#…``, so a page is
one Query. Two shapes of item share it:

- an *entry item*, keyed at its own time: intake facts and tag changes (``F#<t>#<digest>``), business events (the
  same key, written beside the event's dedupe item), enrollments and exits (``F#<t>#enr.<enrollment>`` /
  ``end.<enrollment>``) and skipped or dropped touches (``F#<t>#tch.<enrollment>.<step>.<occurrence>``);
- the *month quota item* (``F#<month end>#Q#<month>``): the customer's WeCom monthly-limit and daily-cap counters,
  keyed at the month's latest possible instant, with the month's sent touches in a list. A sent touch is appended in
  the very UpdateItem that counts it, so recording it costs the fire no write of its own.

A month item sorts after every entry it holds, so a page that reads one may hold entries older than the page's
last item: the page must read on down to the oldest of them, so that no later page holds a newer entry.
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

PREFIX = "F#"
QUOTA_TAG = "Q"
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


def follow_up_task_id(dedupe_key: str) -> str:
    """A follow-up task's id: derived from what caused it (a reply's event digest), so a repeat makes no second."""
    return f"fu_{hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]}"


def plan_of_bucket(bucket_id: str) -> tuple[str, int, str]:
    """(plan_id, version, step_id) of a bucket id ``<plan>.<version>.<step>.<minute>``."""
    plan_id, version, rest = bucket_id.split(".", 2)
    return plan_id, int(version), rest.rsplit(".", 1)[0]
