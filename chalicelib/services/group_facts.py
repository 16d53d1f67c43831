"""Group facts for metrics and member activity (issue 10 §4, §7): a signal subscriber that counts, and the read side.

Every group message, check-in, join and leave reaches ``on_signal`` through the signal bus (wiring.subscribe).
It becomes one GroupFact (domain/group_facts.py) that storage counts once per identity, whoever delivers it how
often. A join or leave also records the group's member count for the day. Reads are the counters and one range read
of the activity index: never all members, never a scan.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.customers import Customer, customer_id_for
from chalicelib.domain.facts import Alias
from chalicelib.domain.group_codes import GroupCode, attribution
from chalicelib.domain.group_facts import (
    CHANNEL_DIMENSION,
    CHAT_ID_RE,
    CODE_DIMENSION,
    DAY,
    DEFAULT_WINDOW_DAYS,
    GroupFact,
    Via,
    code_stats,
    countable,
    default_range,
    fact_of,
    report,
    stats,
    stats_range,
)
from chalicelib.domain.groups import Group
from chalicelib.domain.instants import local_date
from chalicelib.domain.signals import GROUP_JOIN_WAY, GROUP_JOINED, GROUP_LEFT
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.group_fact_ports import GroupFactRepository
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, Signal


class GroupFactStore(GroupFactRepository, Protocol):
    """What the group facts need from storage: their own records, the group, and a joining member's customer."""

    def get_group(self, tenant_id: str, chat_id: str, *, consistent: bool = False) -> Group | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...
    def get_group_code(self, tenant_id: str, code_id: str, *, consistent: bool = False) -> GroupCode | None: ...


class GroupFactsService:
    def __init__(self, repo: GroupFactStore, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    # --- the write side: the bus's subscriber -----------------------------------------------------------------

    def on_signal(self, tenant: Tenant, subject_id: str, signal: Signal) -> bool:
        """Count the group fact a signal makes (a message or check-in with a chat id, a join, a leave). True if this
        delivery counted it; a replay or a concurrent duplicate counts nothing (False)."""
        if not signal.chat_id or not signal.ref:
            return False
        at = int(signal.at.timestamp())
        if not countable(at, int(self.clock.now().timestamp())):
            count("GroupFacts.too_old")
            logger.info("group fact too old to count", extra={"tenant": tenant.tenant_id, "signal": signal.type})
            return False
        with_account = signal.type == GROUP_JOINED and self._has_account(tenant, signal.member)
        via = self._via(tenant.tenant_id, signal.channel_id) if signal.type in (GROUP_JOINED, GROUP_JOIN_WAY) else None
        fact = fact_of(signal, subject_id, tenant.zone, with_account=with_account, via=via)
        if fact is None:
            return False
        counted = self.repo.record_group_fact(tenant.tenant_id, fact)
        count("GroupFacts.counted" if counted else "GroupFacts.duplicate")
        if signal.type in (GROUP_JOINED, GROUP_LEFT):
            self._members(tenant.tenant_id, fact)  # idempotent (a later count wins): a replay repairs a lost one
        return counted

    def _via(self, tenant_id: str, state: str | None) -> Via | None:
        """The group code a join way's ``state`` names (the code id is the state) and the code's channel; None for
        a join not through one of the tenant's codes (a direct invitation, a deleted code)."""
        code = self.repo.get_group_code(tenant_id, state) if state else None
        return attribution(code) if code is not None else None

    def _members(self, tenant_id: str, fact: GroupFact) -> None:
        """The day's member count: the group's as WeCom's state has it now (written before the signal)."""
        group = self.repo.get_group(tenant_id, fact.chat_id, consistent=True)
        if group is not None and group.known_to_wecom:
            self.repo.set_group_members(
                tenant_id, fact.chat_id, date=fact.date, count=group.state.member_count, at=fact.at
            )

    def _has_account(self, tenant: Tenant, member: str | None) -> bool:
        """Whether a joining member (an external_userid) is a customer with an active relation to a staff member:
        found as intake derives the id (the tenant-keyed digest, then the alias of a merged contact)."""
        if not member:
            return False
        tid, digest = tenant.tenant_id, tenant.hmac_hex("ext:" + member)
        customer = self.repo.get_customer(tid, customer_id_for(digest))
        if customer is None:
            alias = self.repo.find_alias(tid, "ext", digest)
            if alias is not None and alias.customer_id:
                customer = self.repo.get_customer(tid, alias.customer_id)
        return customer is not None and bool(customer.active_relations)

    # --- the read side ----------------------------------------------------------------------------------------

    def activity(self, tenant: Tenant, chat_id: str, window_days: int | None = None) -> dict[str, Any]:
        """Active members (spoke within the window: the tenant's default unless given) and the silent count."""
        group = self._group(tenant.tenant_id, chat_id)
        days = window_days or self.default_window(tenant.tenant_id)
        now = int(self.clock.now().timestamp())
        read = self.repo.group_activity_since(tenant.tenant_id, chat_id, now - days * DAY)
        return report(chat_id, days, now, group.state.member_count, read).public(tenant.zone)

    def stats(self, tenant: Tenant, chat_id: str, first: str | None, last: str | None) -> dict[str, Any]:
        """The group's day counters from ``first`` to ``last`` (local dates; default: the last 7 days to today)."""
        self._group(tenant.tenant_id, chat_id)
        days = self._days(tenant, first, last)
        counters = self.repo.group_day_counters(tenant.tenant_id, chat_id, days[0], days[-1])
        before = self.repo.group_members_before(tenant.tenant_id, chat_id, days[0])
        return stats(chat_id, days, counters, before)

    def code_stats(self, tenant: Tenant, code_id: str, first: str | None, last: str | None) -> dict[str, Any]:
        """Joins through the code per local day from ``first`` to ``last`` (default the last 7 days), and the same
        days' ``group_joins`` of its channel (all of that channel's codes) when it names one."""
        tid = tenant.tenant_id
        code = self.repo.get_group_code(tid, code_id)
        if code is None:
            raise NotFoundError(f"group code {code_id} does not exist")
        days = self._days(tenant, first, last)
        joins = self.repo.metric_day_counters(tid, CODE_DIMENSION, code.code_id, days[0], days[-1])
        channel = {}
        if code.channel_id:
            channel = self.repo.metric_day_counters(tid, CHANNEL_DIMENSION, code.channel_id, days[0], days[-1])
        return code_stats(code.code_id, code.channel_id, days, joins, channel)

    def _days(self, tenant: Tenant, first: str | None, last: str | None) -> list[str]:
        today = local_date(self.clock.now().timestamp(), tenant.zone)
        try:
            return stats_range(*default_range(today, first, last))
        except ValueError as exc:
            raise InvalidError(str(exc)) from exc

    def default_window(self, tenant_id: str) -> int:
        return self.repo.get_group_activity_window(tenant_id) or DEFAULT_WINDOW_DAYS

    def settings(self, tenant_id: str) -> dict[str, Any]:
        return {"window_days": self.default_window(tenant_id)}

    def set_settings(self, tenant_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.repo.set_group_activity_window(tenant_id, int(doc["window_days"]))
        return self.settings(tenant_id)

    def _group(self, tenant_id: str, chat_id: str) -> Group:
        group = self.repo.get_group(tenant_id, chat_id) if CHAT_ID_RE.match(chat_id) else None
        if group is None:
            raise NotFoundError(f"group {chat_id} does not exist")
        return group
