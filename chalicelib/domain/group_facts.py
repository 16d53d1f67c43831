"""Group facts for metrics and member activity (issue 10 §4 and §7). Pure: no clock, no storage.

A signal about a customer group — a group message or check-in (a business event with a ``chat_id``), a join, a
leave — becomes one ``GroupFact``: the counters it adds to the group's tenant-local day, keyed by the fact's identity
(``ref``, which a replay carries unchanged), at most one first occurrence of a member that day (a daily speaker, a
task completer), and for a message the speaker's activity record. Storage applies a fact all or nothing and once per
identity (adapters/dynamodb/group_facts.py). The metrics issue (11) turns the day counters into the field's formulas;
their names are the constants below.

Definitions (docs/data-model.md, "Group facts"):
- a **task completer** is a member who checked in that day (domain.md knows no other group task a member completes);
- a **member who also added a staff account** is a joining member who is a customer with an active relation to a
  staff member at the time of the join (``joins_with_account``);
- **members** on a day is the group's member count as last written that day (by the facts' time): days without a
  join or leave carry the last value forward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.instants import iso_local, local_date
from chalicelib.domain.signals import CHECKIN, GROUP_JOIN_WAY, GROUP_JOINED, GROUP_LEFT, REPLY, Signal

# What a fact is (the marker's kind: a check-in keyword message and its message have one ref but are two facts).
MESSAGE, CHECKIN_FACT, JOIN, LEAVE = "msg", "chk", "join", "leave"
VIA = "via"  # a join counted toward its group code (and the code's channel): its own marker, once per join
SPEAKER, COMPLETER = "speaker", "completer"  # first occurrences of a member in a local day

# The day counters of a group (attribute names of its counter item; issue 11 reads them).
MESSAGES, SPEAKERS, CHECKINS, COMPLETERS = "messages", "speakers", "checkins", "completers"
JOINS, LEAVES, JOINS_WITH_ACCOUNT, MEMBERS = "joins", "leaves", "joins_with_account", "members"
JOIN_SCENE, LEAVE_SCENE = "join#", "leave#"  # + the scene: joins and leaves by scene
FLOWS = (MESSAGES, SPEAKERS, CHECKINS, COMPLETERS, JOINS, LEAVES, JOINS_WITH_ACCOUNT)
FIRST_COUNTER = {SPEAKER: SPEAKERS, COMPLETER: COMPLETERS}
CODE_DIMENSION, CHANNEL_DIMENSION = "group_code", "channel"  # the metric dimensions a join through a code adds to
GROUP_JOINS = "group_joins"  # a channel's day counter of joins through its group codes (beside ``uv``)

DEFAULT_WINDOW_DAYS = 7  # active = spoke within this many days, unless the tenant sets its own default
MAX_WINDOW_DAYS = 90
COUNT_HORIZON_DAYS = 30  # a fact older than this when it arrives is not counted (its marker may be gone)
MARKER_DAYS = COUNT_HORIZON_DAYS + 5  # a marker outlives the horizon, so a countable replay always finds it
ACTIVITY_DAYS = MAX_WINDOW_DAYS + 30  # an activity record is kept this long after its member last spoke
MAX_STATS_DAYS = 92
MEMBERS_LOOKBACK = 60  # day counters read back before a range for the members it starts with
DAY = 86_400
_SCENE = re.compile(r"^[A-Za-z0-9_]{1,16}$")
CHAT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # WeCom's chat ids (wr…): nothing else reaches a key


@dataclass(frozen=True)
class Via:
    """The group code a join came through (its join way's state) and the code's channel, if it names one."""

    code_id: str
    channel_id: str | None = None


@dataclass(frozen=True)
class GroupFact:
    """What one signal adds to its group's day, once per (``fact``, ``ref``)."""

    chat_id: str
    fact: str  # MESSAGE | CHECKIN_FACT | JOIN | LEAVE
    ref: str  # the fact's identity (an event digest, a join's identity)
    date: str  # the tenant-local day of ``at``
    at: int  # unix seconds
    counts: tuple[tuple[str, int], ...]  # counter ADDs
    first: str | None = None  # SPEAKER | COMPLETER: counted once per (member, date)
    member: str | None = None  # whose first occurrence and activity: a customer id (never an external id)
    spoke: bool = False  # moves the member's activity record (last spoke, messages)
    via: Via | None = None  # a join through a code: also ``joins`` of the code's day, ``group_joins`` of its channel's,
    # under the marker (VIA, ref), which a join told before its join way was known (fact VIA alone) shares

    @property
    def marker_expires(self) -> int:
        return self.at + MARKER_DAYS * DAY


@dataclass(frozen=True)
class MemberActivity:
    """One member's activity in one group: when they last spoke and how many messages they wrote (all time)."""

    member: str
    last_spoke_at: int  # unix seconds
    messages: int

    @property
    def expires(self) -> int:
        return self.last_spoke_at + ACTIVITY_DAYS * DAY


def scene_of(kind: str | None) -> str:
    """A join or quit scene as a counter name part: WeCom's small numbers; anything else is ``other``."""
    if kind is None or kind == "":
        return "unknown"
    return kind if _SCENE.match(kind) else "other"


def countable(at: int, now: int) -> bool:
    """Whether a fact at ``at`` still counts when it arrives at ``now``: within the horizon its marker outlives."""
    return now - at <= COUNT_HORIZON_DAYS * DAY


def fact_of(
    signal: Signal, subject_id: str, zone: ZoneInfo, *, with_account: bool = False, via: Via | None = None
) -> GroupFact | None:
    """The group fact a signal makes, or None when it is no group fact (no chat id, no identity, another type).
    ``via``: the code a join came through (the caller resolves the signal's join-way state to it).

    A message's or check-in's subject is its customer (the member, by customer id: never the external id, which
    must not reach a key); a join's or leave's member is not kept at all."""
    if not signal.chat_id or not signal.ref or not CHAT_ID_RE.match(signal.chat_id):
        return None
    at = int(signal.at.timestamp())
    chat_id, ref, day = signal.chat_id, signal.ref, local_date(at, zone)
    if signal.type == REPLY:
        counts: tuple[tuple[str, int], ...] = ((MESSAGES, 1),)
        return GroupFact(chat_id, MESSAGE, ref, day, at, counts, first=SPEAKER, member=subject_id, spoke=True)
    if signal.type == CHECKIN:
        return GroupFact(chat_id, CHECKIN_FACT, ref, day, at, ((CHECKINS, 1),), first=COMPLETER, member=subject_id)
    if signal.type == GROUP_JOINED:
        counts = ((JOINS, 1), (JOIN_SCENE + scene_of(signal.kind), 1))
        counts += ((JOINS_WITH_ACCOUNT, 1),) if with_account else ()
        return GroupFact(chat_id, JOIN, ref, day, at, counts, via=via)
    if signal.type == GROUP_JOIN_WAY:  # the join itself was counted when told: only its code's share is left
        return GroupFact(chat_id, VIA, ref, day, at, (), via=via) if via is not None else None
    if signal.type == GROUP_LEFT:
        return GroupFact(chat_id, LEAVE, ref, day, at, ((LEAVES, 1), (LEAVE_SCENE + scene_of(signal.kind), 1)))
    return None


# --- the read side ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityReport:
    """Active members of a group (spoke within the window) and the silent count (the rest of its members)."""

    chat_id: str
    window_days: int
    since: int  # unix seconds: the window's start
    member_count: int
    active: tuple[MemberActivity, ...]  # newest speaker first

    @property
    def silent_count(self) -> int:
        return max(self.member_count - len(self.active), 0)

    def public(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "window_days": self.window_days,
            "since": iso_local(self.since, zone),
            "member_count": self.member_count,
            "active_count": len(self.active),
            "silent_count": self.silent_count,
            "active": [
                {"member": a.member, "last_spoke_at": iso_local(a.last_spoke_at, zone), "messages": a.messages}
                for a in self.active
            ],
        }


def report(chat_id: str, window_days: int, now: int, member_count: int, read: list[MemberActivity]) -> ActivityReport:
    """The report from the activity records read for the window (a record read at its edge is dropped if older)."""
    since = now - window_days * DAY
    active = sorted((a for a in read if a.last_spoke_at >= since), key=lambda a: (-a.last_spoke_at, a.member))
    return ActivityReport(chat_id, window_days, since, member_count, tuple(active))


def default_range(today: str, first: str | None, last: str | None) -> tuple[str, str]:
    """A range's missing ends: ``to`` is today, ``from`` starts the 7 days that end at ``to``."""
    last = last or today
    return first or (date.fromisoformat(last) - timedelta(days=6)).isoformat(), last


def stats_range(first: str, last: str) -> list[str]:
    """The local days from ``first`` to ``last`` inclusive; ValueError for a reversed or too long range."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if end < start:
        raise ValueError("to is before from")
    span = (end - start).days + 1
    if span > MAX_STATS_DAYS:
        raise ValueError(f"a range covers at most {MAX_STATS_DAYS} days")
    return [(start + timedelta(days=n)).isoformat() for n in range(span)]


def stats(
    chat_id: str, days: list[str], counters: dict[str, dict[str, int]], members_before: int | None
) -> dict[str, Any]:
    """Each day's counters (0 where nothing happened; members carried forward) and the range's totals."""
    rows: list[dict[str, Any]] = []
    members = members_before
    totals = dict.fromkeys(FLOWS, 0)
    joins_by_scene: dict[str, int] = {}
    leaves_by_scene: dict[str, int] = {}
    for day in days:
        raw = counters.get(day, {})
        members = raw.get(MEMBERS, members)
        row: dict[str, Any] = {"date": day, **{name: raw.get(name, 0) for name in FLOWS}, MEMBERS: members}
        row["joins_by_scene"] = _by_prefix(raw, JOIN_SCENE)
        row["leaves_by_scene"] = _by_prefix(raw, LEAVE_SCENE)
        for name in FLOWS:
            totals[name] += row[name]
        _add(joins_by_scene, row["joins_by_scene"])
        _add(leaves_by_scene, row["leaves_by_scene"])
        rows.append(row)
    summary = {
        **totals,
        "joins_by_scene": joins_by_scene,
        "leaves_by_scene": leaves_by_scene,
        "members_start": members_before,
        "members_end": members,
    }
    return {"chat_id": chat_id, "from": days[0], "to": days[-1], "days": rows, "totals": summary}


def _by_prefix(raw: dict[str, int], prefix: str) -> dict[str, int]:
    return {name.removeprefix(prefix): n for name, n in sorted(raw.items()) if name.startswith(prefix)}


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for name, n in more.items():
        into[name] = into.get(name, 0) + n


def code_stats(
    code_id: str,
    channel_id: str | None,
    days: list[str],
    joins: dict[str, dict[str, int]],
    channel: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """A group code's joins per day and in total, with its channel's ``group_joins`` (None without a channel)."""
    rows: list[dict[str, Any]] = []
    for day in days:
        row: dict[str, Any] = {"date": day, JOINS: joins.get(day, {}).get(JOINS, 0)}
        row["channel_" + GROUP_JOINS] = channel.get(day, {}).get(GROUP_JOINS, 0) if channel_id else None
        rows.append(row)
    totals: dict[str, Any] = {JOINS: sum(r[JOINS] for r in rows)}
    totals["channel_" + GROUP_JOINS] = sum(r["channel_" + GROUP_JOINS] for r in rows) if channel_id else None
    return {
        "code_id": code_id,
        "channel_id": channel_id,
        "from": days[0],
        "to": days[-1],
        "days": rows,
        "totals": totals,
    }
