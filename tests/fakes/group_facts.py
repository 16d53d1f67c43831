"""In-memory group facts and member activity, with GroupFactRepository's once-per-identity semantics.

The activity index is a sorted list per group, read from the window's start by bisection, and every record the
window read looks at is counted (``activity_reads``): a test can show that silent members are never read.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

from chalicelib.domain.group_facts import (
    CHANNEL_DIMENSION,
    CODE_DIMENSION,
    FIRST_COUNTER,
    GROUP_JOINS,
    JOINS,
    MEMBERS,
    MEMBERS_LOOKBACK,
    VIA,
    GroupFact,
    MemberActivity,
)

_Group = tuple[str, str]  # (tenant, chat_id)


class FakeGroupFactStoreMixin:
    lock: Any
    activity_reads = 0  # activity records the window reads looked at

    def _gf(self) -> dict[str, Any]:
        if not hasattr(self, "_group_facts"):
            self._group_facts: dict[str, Any] = {
                "markers": set(),  # (tenant, chat_id, kind, ...)
                "counters": {},  # (tenant, chat_id, date) -> {name: n}
                "members_at": {},  # (tenant, chat_id, date) -> at
                "activity": {},  # (tenant, chat_id) -> {member: MemberActivity}
                "index": {},  # (tenant, chat_id) -> sorted [(last_spoke, member)]
                "settings": {},  # tenant -> window days
                "links": {},  # (tenant, member) -> {chat_id}: the groups holding a member's records
            }
        return self._group_facts

    def record_group_fact(self, tenant_id: str, fact: GroupFact) -> bool:
        with self.lock:
            via = self._fake_via(tenant_id, fact)
            if fact.fact == VIA:
                return via
            gf = self._gf()
            marker = (tenant_id, fact.chat_id, "fact", fact.fact, fact.ref)
            if marker in gf["markers"]:
                return via
            gf["markers"].add(marker)
            counter = gf["counters"].setdefault((tenant_id, fact.chat_id, fact.date), {})
            for name, n in fact.counts:
                counter[name] = counter.get(name, 0) + n
            if fact.member:
                gf["links"].setdefault((tenant_id, fact.member), set()).add(fact.chat_id)
            if fact.first and fact.member:
                first = (tenant_id, fact.chat_id, "first", fact.first, fact.date, fact.member)
                if first not in gf["markers"]:
                    gf["markers"].add(first)
                    name = FIRST_COUNTER[fact.first]
                    counter[name] = counter.get(name, 0) + 1
            if fact.spoke and fact.member:
                self._fake_spoke((tenant_id, fact.chat_id), fact.member, fact.at)
            return True

    def _fake_via(self, tenant_id: str, fact: GroupFact) -> bool:
        """A join's code share, once per ref: ``joins`` of the code's day, ``group_joins`` of its channel's."""
        gf = self._gf()
        marker = (tenant_id, fact.chat_id, "fact", VIA, fact.ref)
        if fact.via is None or marker in gf["markers"]:
            return False
        gf["markers"].add(marker)
        code = gf.setdefault("metrics", {}).setdefault((tenant_id, CODE_DIMENSION, fact.via.code_id, fact.date), {})
        code[JOINS] = code.get(JOINS, 0) + 1
        if fact.via.channel_id:
            channel = self._events()["metrics"].setdefault((tenant_id, fact.via.channel_id, fact.date), {})  # type: ignore[attr-defined]
            channel[GROUP_JOINS] = channel.get(GROUP_JOINS, 0) + 1
        return True

    def metric_day_counters(
        self, tenant_id: str, dimension: str, dimension_id: str, first: str, last: str
    ) -> dict[str, dict[str, int]]:
        with self.lock:
            if dimension == CHANNEL_DIMENSION:
                rows = {(t, CHANNEL_DIMENSION, c, d): v for (t, c, d), v in self._events()["metrics"].items()}  # type: ignore[attr-defined]
            else:
                rows = self._gf().get("metrics", {})
            return {
                d: dict(v)
                for (t, dim, i, d), v in rows.items()
                if (t, dim, i) == (tenant_id, dimension, dimension_id) and first <= d <= last
            }

    def _fake_spoke(self, group: _Group, member: str, at: int) -> None:
        gf = self._gf()
        records: dict[str, MemberActivity] = gf["activity"].setdefault(group, {})
        index: list[tuple[int, str]] = gf["index"].setdefault(group, [])
        seen = records.get(member)
        if seen is None:
            records[member] = MemberActivity(member, at, 1)
            bisect.insort(index, (at, member))
            return
        records[member] = replace(seen, messages=seen.messages + 1, last_spoke_at=max(seen.last_spoke_at, at))
        if at > seen.last_spoke_at:
            index.remove((seen.last_spoke_at, member))
            bisect.insort(index, (at, member))

    def erase_group_activity(self, tenant_id: str, member: str) -> int:
        with self.lock:
            gf = self._gf()
            chats = gf["links"].pop((tenant_id, member), set())
            for chat_id in chats:
                seen = gf["activity"].get((tenant_id, chat_id), {}).pop(member, None)
                if seen is not None:
                    gf["index"][(tenant_id, chat_id)].remove((seen.last_spoke_at, member))
            gf["markers"] = {m for m in gf["markers"] if not (m[0] == tenant_id and m[2] == "first" and m[5] == member)}
            return len(chats)

    def set_group_members(self, tenant_id: str, chat_id: str, *, date: str, count: int, at: int) -> bool:
        with self.lock:
            gf = self._gf()
            key = (tenant_id, chat_id, date)
            if gf["members_at"].get(key, at) > at:
                return False
            gf["members_at"][key] = at
            gf["counters"].setdefault(key, {})[MEMBERS] = count
            return True

    def group_activity_since(self, tenant_id: str, chat_id: str, since: int) -> list[MemberActivity]:
        with self.lock:
            gf = self._gf()
            index: list[tuple[int, str]] = gf["index"].get((tenant_id, chat_id), [])
            window = index[bisect.bisect_left(index, (since, "")) :]
            self.activity_reads += len(window)
            records = gf["activity"][(tenant_id, chat_id)] if window else {}
            return [records[member] for _, member in reversed(window)]

    def group_day_counters(self, tenant_id: str, chat_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        with self.lock:
            return {
                date: dict(values)
                for (t, c, date), values in self._gf()["counters"].items()
                if t == tenant_id and c == chat_id and first <= date <= last
            }

    def group_members_before(self, tenant_id: str, chat_id: str, date: str) -> int | None:
        with self.lock:
            days = sorted(
                (d, values)
                for (t, c, d), values in self._gf()["counters"].items()
                if t == tenant_id and c == chat_id and d < date
            )
            recent = days[::-1][:MEMBERS_LOOKBACK]
            return next((values[MEMBERS] for _, values in recent if MEMBERS in values), None)

    def get_group_activity_window(self, tenant_id: str) -> int | None:
        with self.lock:
            found: int | None = self._gf()["settings"].get(tenant_id)
            return found

    def set_group_activity_window(self, tenant_id: str, days: int) -> None:
        with self.lock:
            self._gf()["settings"][tenant_id] = days
