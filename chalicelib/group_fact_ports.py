"""The port of group facts for metrics and member activity (issue 10 §4, §7), beside chalicelib/ports.py (kept
apart so that file stays small): what GroupFactsService needs from storage of its own records."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.group_facts import GroupFact, MemberActivity


class GroupFactRepository(Protocol):
    """A group's day counters, first-occurrence markers and members' activity records (docs/data-model.md, "Group
    facts"), and the tenant's default activity window."""

    def record_group_fact(self, tenant_id: str, fact: GroupFact) -> bool:
        """Apply ``fact`` all or nothing, once per (fact, ref), and a join's code share (``fact.via``) once per
        (VIA, ref): True if this call counted anything, False if all of it was counted already (a replay or a
        concurrent duplicate). Never counts twice."""
        ...

    def set_group_members(self, tenant_id: str, chat_id: str, *, date: str, count: int, at: int) -> bool:
        """The group's member count on ``date`` as of ``at`` (unix seconds), unless a later one is written already."""
        ...

    def group_activity_since(self, tenant_id: str, chat_id: str, since: int) -> list[MemberActivity]:
        """The activity records of members who spoke at or after ``since`` (unix seconds): one range read of the
        index by last-spoke time, never the silent members' records."""
        ...

    def group_day_counters(self, tenant_id: str, chat_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The group's day counters from local date ``first`` to ``last``, by date (days with none are absent)."""
        ...

    def metric_day_counters(
        self, tenant_id: str, dimension: str, dimension_id: str, first: str, last: str
    ) -> dict[str, dict[str, int]]:
        """The day counters of a group code (dimension ``group_code``: ``joins``) or a channel (``channel``: ``uv``,
        ``group_joins``) from local date ``first`` to ``last``, by date (days with none are absent)."""
        ...

    def group_members_before(self, tenant_id: str, chat_id: str, date: str) -> int | None:
        """The latest member count written before ``date`` (within ``MEMBERS_LOOKBACK`` counter days), or None."""
        ...

    def get_group_activity_window(self, tenant_id: str) -> int | None: ...
    def set_group_activity_window(self, tenant_id: str, days: int) -> None: ...
    def erase_group_activity(self, tenant_id: str, member: str) -> int:
        """Delete a customer's activity records and first-occurrence markers in every group (erasure); how many
        groups. The day counters stay (anonymous counts)."""
        ...
