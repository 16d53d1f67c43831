"""``change_external_chat`` callbacks: the group's state and members kept true, within the callback's budget.

The member versions decide (domain/group_events.py): a change on top of the version held applies at once; a
duplicate does nothing; anything else re-reads the group (``groupchat/get``) and reconciles to it. A re-read that
has no time left in the callback's budget, or that WeCom refuses, becomes a repair (services/repairs.py: the
backstop makes it within minutes); without a repair queue the daily sync settles it. A joining member's join way
(the channel) and inviter are only in ``groupchat/get``, so a join of an external member re-reads too, budget
permitting, before the join is told: the GROUP_JOINED signal carries the join way's state, so the join counts
toward its group code and channel (services/group_facts.py); a deferred re-read tells the way when it reconciles
(GROUP_JOIN_WAY, MemberBook.reconcile). A dismissed group stays dismissed: later deliveries for it are ignored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.group_events import (
    ADD_MEMBER,
    APPLY,
    CREATE,
    DETAILS,
    DISMISS,
    DUPLICATE,
    GroupEvent,
    remember,
    version_decision,
)
from chalicelib.domain.group_members import EXTERNAL_MEMBER, MemberChange, joins, leaves
from chalicelib.domain.groups import ACTIVE, DISMISSED, GroupState
from chalicelib.domain.repairs import GROUP_REFETCH, RepairItem
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock
from chalicelib.services.budget import Budget
from chalicelib.services.groups.members import SAVE_ATTEMPTS, MemberBook, member_key
from chalicelib.services.groups.ports import GroupChatSource, GroupStore
from chalicelib.services.identities import credentials
from chalicelib.services.intake import IntakeResult

MIN_REFETCH_SECONDS = 0.5  # less than this left in the budget: the re-read is left to the repair queue

APPLIED, REFETCHED, DEFERRED, DUPLICATE_OUTCOME, IGNORED = "applied", "refetched", "deferred", "duplicate", "ignored"


class Enqueue(Protocol):
    def enqueue(self, item: RepairItem) -> bool: ...


class GroupEvents:
    def __init__(
        self,
        repo: GroupStore,
        source: GroupChatSource,
        book: MemberBook,
        clock: Clock,
        repairs: Enqueue | None = None,
    ) -> None:
        self.repo = repo
        self.source = source  # groupchat/get
        self.book = book
        self.clock = clock
        self.repairs = repairs

    def handle(self, tenant: Tenant, ev: GroupEvent, budget: Budget) -> IntakeResult:
        """Apply one delivery (idempotently); never raises for WeCom's failures (they become repairs)."""
        for _ in range(SAVE_ATTEMPTS):
            group = self.repo.get_group(tenant.tenant_id, ev.chat_id, consistent=True)
            state = group.state if group is not None else GroupState()
            if state.rev > 0 and state.status == DISMISSED:
                return IntakeResult(IGNORED, reason="dismissed")
            outcome = self._once(tenant, ev, state, budget)
            if outcome is not None:
                count(f"GroupEvent.{outcome.outcome}")
                return outcome
        return self.refetch(tenant, ev.chat_id, budget)  # it kept changing under us: read the truth

    def _once(self, tenant: Tenant, ev: GroupEvent, state: GroupState, budget: Budget) -> IntakeResult | None:
        """The outcome, or None when another writer moved the state meanwhile (decide again)."""
        tid, chat_id = tenant.tenant_id, ev.chat_id
        if ev.change_type == DISMISS:
            if not self.repo.save_group_state(tid, chat_id, replace(state, status=DISMISSED), expected_rev=state.rev):
                return None
            return IntakeResult(APPLIED)
        if ev.change_type == CREATE:
            if state.rev > 0:
                return IntakeResult(DUPLICATE_OUTCOME)  # seen before, by this event or a sync
            created = replace(state, status=ACTIVE, created_at=ev.create_time)
            if not self.repo.save_group_state(tid, chat_id, created, expected_rev=0):
                return None
            return self.refetch(tenant, chat_id, budget)
        if ev.update_detail in DETAILS:
            return self.refetch(tenant, chat_id, budget)  # the event names the change, never the new value
        if not ev.membership:
            return IntakeResult(IGNORED, reason="unhandled change")
        decision = version_decision(state, ev)
        if decision == DUPLICATE:
            return IntakeResult(DUPLICATE_OUTCOME)
        if decision != APPLY:
            return self.refetch(tenant, chat_id, budget)
        applied = self._apply(tenant, ev, state)
        if applied is None:
            return self.refetch(tenant, chat_id, budget)  # our records disagree with the chain: read the truth
        saved, new = applied
        ways: dict[str, str] = {}
        try:
            if saved and ev.update_detail == ADD_MEMBER and EXTERNAL_MEMBER in self._types(tenant, ev):
                ways = self._enrich(tenant, ev, budget)  # the join way and inviter: best effort, the join stands
        finally:  # told after the count that includes them is saved, with the join way when it was read
            self.book.announce(tenant, chat_id, [replace(c, state=ways.get(c.member_key, c.state)) for c in new])
        return IntakeResult(APPLIED) if saved else None

    def _types(self, tenant: Tenant, ev: GroupEvent) -> set[int]:
        return set(self.book.member_types(tenant, ev.members).values())

    def _enrich(self, tenant: Tenant, ev: GroupEvent, budget: Budget | None) -> dict[str, str]:
        """The joiners' join way and inviter, which only groupchat/get tells: written on their records alone (the
        chain vouched for everyone else); their join-way states by member key. No time or WeCom refusing: the
        repair queue's full re-read does it, and tells the join way then (MemberBook.reconcile)."""
        if budget is not None and budget.left() < MIN_REFETCH_SECONDS:
            self._defer(tenant, ev.chat_id, "budget")
            return {}
        try:
            detail = self._source(budget).get_group_chat(credentials(tenant), ev.chat_id)
        except SiyuError as exc:
            self._defer(tenant, ev.chat_id, exc.code)
            return {}
        return self.book.enrich(tenant, detail, list(ev.members))

    def _source(self, budget: Budget | None) -> Any:
        source: Any = self.source
        bounded = getattr(source, "bounded", None)
        return bounded(budget) if budget is not None and callable(bounded) else source

    def _apply(self, tenant: Tenant, ev: GroupEvent, state: GroupState) -> tuple[bool, list[MemberChange]] | None:
        """The change on top of ``state``: (True once saved, False if the state moved meanwhile: nothing written
        but idempotent records; the history entries this call wrote first, for the caller to tell), or None if the
        records contradict it (a join of someone in the group, a leave of someone not in it: something was missed,
        so nothing is written)."""
        tid, chat_id = tenant.tenant_id, ev.chat_id
        keys = {u: member_key(tenant, u) for u in ev.members}
        stored = self.repo.get_members(tid, chat_id, sorted(set(keys.values())))
        if ev.update_detail == ADD_MEMBER:
            types = self.book.member_types(tenant, ev.members)
            arrivals = [(keys[u], u, types[u]) for u in ev.members]
            members, history = joins(stored, arrivals, at=ev.create_time, scene=ev.join_scene)
            members = self.book.link(tenant, members)
            delta = len(members)
        else:
            members, history = leaves(stored, [keys[u] for u in ev.members], at=ev.create_time, scene=ev.quit_scene)
            delta = -len(members)
        if len(members) != len(ev.members):
            return None
        new = self.book.write(tenant, chat_id, members, history)
        applied = replace(
            state,
            member_count=max(0, state.member_count + delta),
            member_version=ev.current_version,
            seen_versions=remember(state.seen_versions, ev.current_version),
        )
        saved = self.repo.save_group_state(tid, chat_id, applied, expected_rev=state.rev)
        return saved, new

    def refetch(self, tenant: Tenant, chat_id: str, budget: Budget | None) -> IntakeResult:
        """Read the group from WeCom now and reconcile, or leave it to the repair queue when there is no time or
        WeCom fails."""
        if budget is not None and budget.left() < MIN_REFETCH_SECONDS:
            return self._defer(tenant, chat_id, "budget")
        try:
            detail = self._source(budget).get_group_chat(credentials(tenant), chat_id)
        except SiyuError as exc:
            return self._defer(tenant, chat_id, exc.code)
        self.book.reconcile(tenant, detail, now=int(self.clock.now().timestamp()))
        return IntakeResult(REFETCHED)

    def repair(self, tenant: Tenant, item: RepairItem) -> None:
        """The repair queue's share: the re-read a callback could not make (raises SiyuError to be retried)."""
        chat_id = str(item.data["chat_id"])
        group = self.repo.get_group(tenant.tenant_id, chat_id, consistent=True)
        if group is not None and group.state.status == DISMISSED:
            return
        detail = self.source.get_group_chat(credentials(tenant), chat_id)
        self.book.reconcile(tenant, detail, now=int(self.clock.now().timestamp()))

    def _defer(self, tenant: Tenant, chat_id: str, why: str) -> IntakeResult:
        logger.info("group re-read deferred", extra={"tenant": tenant.tenant_id, "chat_id": chat_id, "why": why})
        if self.repairs is not None:
            self.repairs.enqueue(RepairItem(GROUP_REFETCH, tenant.tenant_id, {"chat_id": chat_id}))
        return IntakeResult(DEFERRED, reason=why)
