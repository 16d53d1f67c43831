"""Group facts for metrics and member activity (issue 10 §4, §7); see docs/data-model.md, "Group facts".

Keys, all in the group's partition ``T#<tid>#G#<chat_id>`` except the day counters and the settings:
- a fact's identity marker ``GF#<fact>#<ref>`` (TTL ``MARKER_DAYS`` after the fact);
- a first occurrence ``GD#<speaker|completer>#<member>#<local date>`` (the same TTL);
- a member's activity ``ACT#<member>`` (last spoke, messages), in gsi1 as ``T#<tid>#G#<chat_id>#ACT`` /
  ``<last spoke UTC>#<member>``: a window is one range Query of the index, which holds only the members who spoke
  in it; the entry moves with the item (one per member); TTL ``ACTIVITY_DAYS`` after the last message;
- the group's day counters ``T#<tid>#M#group#<chat_id>`` / ``D#<local date>`` (attribute names are data);
- a join through a group code: its marker ``GF#via#<ref>`` in the group's partition, ``joins`` of the code's day
  ``T#<tid>#M#group_code#<code_id>`` and, when the code names a channel, ``group_joins`` of the channel's day
  ``T#<tid>#M#channel#<channel_id>`` (beside the exposure ``uv``);
- the tenant's default window ``T#<tid>`` / ``SETTINGS#group_activity``;
- in a customer member's partition, ``MG#<chat_id>`` for each group holding their records: erasure's lead to them.

Effectively-once: a fact is one TransactWriteItems of its marker (``attribute_not_exists``), the counter ADDs, a
first occurrence's marker (``attribute_not_exists``) with its counter, and the activity record (conditional on what
was read), and a join's code share under its own marker (``attribute_not_exists``): a join told with its join way
writes both markers in one transaction; one told before its join way was known writes the share alone later (the
join's marker already there), so each join counts toward its code once whichever way it arrives. A replay finds
the marker in its read; a concurrent duplicate loses the marker's condition, re-reads and finds it; a
concurrent fact of the same member changes the activity record or the first marker under the other's condition, and
re-reads and decides again. Nothing is counted unless the marker is written with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.models import (
    CounterItem,
    GroupActivityItem,
    GroupActivitySettingsItem,
    GroupMarkerItem,
    SiyuItem,
)
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.group_facts import (
    ACTIVITY_DAYS,
    DAY,
    FIRST_COUNTER,
    GROUP_JOINS,
    JOINS,
    MEMBERS,
    MEMBERS_LOOKBACK,
    VIA,
    GroupFact,
    MemberActivity,
)
from chalicelib.domain.instants import utc_key
from chalicelib.errors import ConflictError

MAX_ATTEMPTS = 5
MEMBERS_AT = "members_at"  # when the day's member count was taken (unix seconds): a later one wins


def _instant(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _counter(tenant_id: str, chat_id: str, date: str) -> CounterItem:
    return CounterItem(pk=k.metric_pk(tenant_id, k.GROUP_DIMENSION, chat_id), sk=k.metric_sk(date))


def _activity(item: GroupActivityItem) -> MemberActivity:
    return MemberActivity(item.sk.removeprefix(k.GROUP_ACTIVITY_PREFIX), int(item.last_spoke), int(item.messages))


def _numbers(raw: Raw) -> dict[str, int]:
    return {name: int(v["N"]) for name, v in raw.items() if "N" in v and name not in (MEMBERS_AT, "expires_at")}


class GroupFactRepository(DynamoBase):
    def record_group_fact(self, tenant_id: str, fact: GroupFact) -> bool:
        """Apply ``fact`` once (module docstring): True if this call counted any of it (the fact, or its code
        share), False if all of it was counted before."""
        pk = k.group_pk(tenant_id, fact.chat_id)
        marker = (pk, k.group_fact_sk(fact.fact, fact.ref)) if fact.fact != VIA else None
        via = (pk, k.group_fact_sk(VIA, fact.ref)) if fact.via is not None else None
        first = (pk, k.group_first_sk(fact.first, fact.member, fact.date)) if fact.first and fact.member else None
        activity = (pk, k.group_activity_sk(fact.member)) if fact.spoke and fact.member else None
        link = (k.customer_pk(tenant_id, fact.member), k.member_group_sk(fact.chat_id)) if fact.member else None
        for _ in range(MAX_ATTEMPTS):
            read = self.batch_get([key for key in (marker, via, first, activity, link) if key], consistent=True)
            new_marker = marker if marker is not None and marker not in read else None
            new_via = via if via is not None and via not in read else None
            if new_marker is None and new_via is None:
                return False
            new_first = first if new_marker and first and first not in read else None
            new_link = link if new_marker and link not in read else None
            try:
                self._apply(tenant_id, fact, new_marker, new_via, new_first, activity, read, new_link)
                return True
            except ConflictError:
                continue  # a duplicate won (the next read finds its marker) or the member's records moved
        raise ConflictError("the group's records kept changing concurrently; a retry is safe")

    def _apply(
        self,
        tenant_id: str,
        fact: GroupFact,
        marker: tuple[str, str] | None,
        via: tuple[str, str] | None,
        new_first: tuple[str, str] | None,
        activity: tuple[str, str] | None,
        read: dict[tuple[str, str], Raw],
        new_link: tuple[str, str] | None,
    ) -> None:
        """The parts not counted yet: the fact (``marker``) with its counters, its code share (``via``)."""
        expires = _instant(fact.marker_expires)
        with self.transaction("the fact was counted concurrently or the member's records changed") as tx:
            if marker is not None:
                self._fact(tx, tenant_id, fact, marker, new_first, activity, read, new_link)
            if via is not None and fact.via is not None:
                tx.save(GroupMarkerItem(pk=via[0], sk=via[1], expires_at=expires), condition=_absent())
                code = CounterItem(
                    pk=k.metric_pk(tenant_id, k.GROUP_CODE_DIMENSION, fact.via.code_id), sk=k.metric_sk(fact.date)
                )
                tx.update(code, [Path(JOINS).add(1), CounterItem.kind.set(CounterItem)])
                if fact.via.channel_id:
                    pk = k.metric_pk(tenant_id, k.CHANNEL_DIMENSION, fact.via.channel_id)
                    channel = CounterItem(pk=pk, sk=k.metric_sk(fact.date))
                    tx.update(channel, [Path(GROUP_JOINS).add(1), CounterItem.kind.set(CounterItem)])

    def _fact(
        self,
        tx: TransactWrite,
        tenant_id: str,
        fact: GroupFact,
        marker: tuple[str, str],
        new_first: tuple[str, str] | None,
        activity: tuple[str, str] | None,
        read: dict[tuple[str, str], Raw],
        new_link: tuple[str, str] | None,
    ) -> None:
        expires = _instant(fact.marker_expires)
        counts = dict(fact.counts)
        if new_first is not None and fact.first:
            counts[FIRST_COUNTER[fact.first]] = counts.get(FIRST_COUNTER[fact.first], 0) + 1
        actions: list[Action] = [Path(name).add(n) for name, n in counts.items()]
        tx.save(GroupMarkerItem(pk=marker[0], sk=marker[1], expires_at=expires), condition=_absent())
        if new_first is not None:
            tx.save(GroupMarkerItem(pk=new_first[0], sk=new_first[1], expires_at=expires), condition=_absent())
        if actions:
            tx.update(_counter(tenant_id, fact.chat_id, fact.date), [*actions, CounterItem.kind.set(CounterItem)])
        if activity is not None and fact.member:
            self._spoke(tx, tenant_id, fact, activity, read.get(activity))
        if new_link is not None:  # the member's first record in this group: erasure's lead to it
            tx.save(GroupMarkerItem(pk=new_link[0], sk=new_link[1]))

    @staticmethod
    def _spoke(tx: TransactWrite, tenant_id: str, fact: GroupFact, key: tuple[str, str], seen: Raw | None) -> None:
        """One more message of the member; the last-spoke time (and its index entry) only moves forward."""
        assert fact.member is not None
        item = GroupActivityItem(pk=key[0], sk=key[1])
        before = int(seen["last_spoke"]["N"]) if seen else None
        actions: list[Action] = [GroupActivityItem.messages.add(1), GroupActivityItem.kind.set(GroupActivityItem)]
        if before is None or fact.at > before:
            actions += [
                GroupActivityItem.last_spoke.set(fact.at),
                GroupActivityItem.gsi1pk.set(k.group_activity_gsi_pk(tenant_id, fact.chat_id)),
                GroupActivityItem.gsi1sk.set(k.group_activity_gsi_sk(utc_key(_instant(fact.at)), fact.member)),
                GroupActivityItem.expires_at.set(_instant(fact.at + ACTIVITY_DAYS * DAY)),
            ]
        condition = _absent() if before is None else GroupActivityItem.last_spoke == before
        tx.update(item, actions, condition=condition)

    def erase_group_activity(self, tenant_id: str, member: str) -> int:
        """Delete a customer's records in every group they spoke or checked in (their activity and first-occurrence
        markers; the day counters stay: anonymous counts), found through the links in their partition; each link
        goes after its group's records, so an interrupted erasure resumes. Returns how many groups."""
        groups, start = 0, None
        cpk = k.customer_pk(tenant_id, member)
        while True:
            links, start = self.walk(cpk, prefix=k.MEMBER_GROUP_PREFIX, keys_only=True, start=start)
            for link in links:
                chat_id = link["sk"]["S"].removeprefix(k.MEMBER_GROUP_PREFIX)
                gpk = k.group_pk(tenant_id, chat_id)
                keys = [(gpk, k.group_activity_sk(member))]
                for first in FIRST_COUNTER:
                    keys += self._keys(gpk, k.group_first_prefix(first, member))
                self.batch_delete(keys)
                self.batch_delete([(cpk, link["sk"]["S"])])
                groups += 1
            if not start:
                return groups

    def _keys(self, pk: str, prefix: str) -> list[tuple[str, str]]:
        keys, start = [], None
        while True:
            raws, start = self.walk(pk, prefix=prefix, keys_only=True, start=start)
            keys += [(r["pk"]["S"], r["sk"]["S"]) for r in raws]
            if not start:
                return keys

    def set_group_members(self, tenant_id: str, chat_id: str, *, date: str, count: int, at: int) -> bool:
        """Set the day's ``members`` unless a count taken later is there already (False then)."""
        item = _counter(tenant_id, chat_id, date)
        actions: list[Action] = [Path(MEMBERS).set(count), Path(MEMBERS_AT).set(at), CounterItem.kind.set(CounterItem)]
        condition = Path(MEMBERS_AT).does_not_exist() | (Path(MEMBERS_AT) <= at)
        return self.conditional(lambda: item.update(actions, condition=condition))

    def group_activity_since(self, tenant_id: str, chat_id: str, since: int) -> list[MemberActivity]:
        """One range Query of the group's activity index from ``since`` on (eventually consistent)."""
        start = utc_key(_instant(since))
        with translate():
            items = GroupActivityItem.gsi1.query(
                k.group_activity_gsi_pk(tenant_id, chat_id), SiyuItem.gsi1sk >= start, scan_index_forward=False
            )
            return [_activity(i) for i in items if isinstance(i, GroupActivityItem)]

    def group_day_counters(self, tenant_id: str, chat_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        pk = k.metric_pk(tenant_id, k.GROUP_DIMENSION, chat_id)
        raws = self.query_raw(pk, SiyuItem.sk.between(k.metric_sk(first), k.metric_sk(last)))
        return {raw["sk"]["S"].removeprefix(k.metric_sk("")): _numbers(raw) for raw in raws}

    def metric_day_counters(
        self, tenant_id: str, dimension: str, dimension_id: str, first: str, last: str
    ) -> dict[str, dict[str, int]]:
        """Day counters of a group code or a channel (``dimension``: ``group_code`` | ``channel``), by local date."""
        pk = k.metric_pk(tenant_id, dimension, dimension_id)
        raws = self.query_raw(pk, SiyuItem.sk.between(k.metric_sk(first), k.metric_sk(last)))
        return {raw["sk"]["S"].removeprefix(k.metric_sk("")): _numbers(raw) for raw in raws}

    def group_members_before(self, tenant_id: str, chat_id: str, date: str) -> int | None:
        pk = k.metric_pk(tenant_id, k.GROUP_DIMENSION, chat_id)
        raws = self.query_raw(pk, SiyuItem.sk < k.metric_sk(date), forward=False, limit=MEMBERS_LOOKBACK)
        return next((int(raw[MEMBERS]["N"]) for raw in raws if MEMBERS in raw), None)

    def get_group_activity_window(self, tenant_id: str) -> int | None:
        item = self.get(GroupActivitySettingsItem, k.tenant_pk(tenant_id), k.GROUP_ACTIVITY_SETTINGS_SK)
        return int(item.window_days) if item else None

    def set_group_activity_window(self, tenant_id: str, days: int) -> None:
        item = GroupActivitySettingsItem(pk=k.tenant_pk(tenant_id), sk=k.GROUP_ACTIVITY_SETTINGS_SK, window_days=days)
        with translate():
            item.save()


def _absent() -> Condition:
    return SiyuItem.pk.does_not_exist()
