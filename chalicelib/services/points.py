"""Check-ins (打卡), points, streaks, rewards, leaderboards and redemptions (issue 10 §6).

Check-ins arrive as signals, after their fact is recorded: a ``checkin`` business event with a ``chat_id``, or a
group message (a ``reply`` signal with a ``chat_id``) whose text contains the group's keyword. The signal's ``ref``
(the event's digest) is the credit's identity, so a replayed fact credits nothing twice; the check-in's day claim
makes a second check-in the same tenant-local day a duplicate. Everything one check-in changes is written at once
(adapters/dynamodb/points.py); only the reward task comes after, once per streak run by its dedupe key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.points import (
    APPLIED,
    CHECKIN_REASON,
    DUPLICATE,
    MAX_SCORE,
    SHORT,
    Balance,
    BoardEntry,
    CheckinRule,
    LedgerEntry,
    Redemption,
    Standing,
    check_in,
    effective_rule,
    matches,
    with_reward,
)
from chalicelib.domain.signals import CHECKED_IN, CHECKIN, REPLY, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, Page, SignalPublisher, TaskSink
from chalicelib.services.signals import NoSignals

MAX_ATTEMPTS = 3
SIGNALS = (CHECKIN, REPLY)
REPLAYED = "replayed"


class PointsRepo(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def checkin_rules(self, tenant_id: str, chat_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]: ...
    def put_checkin_rule(self, tenant_id: str, chat_id: str | None, rule: dict[str, Any]) -> None: ...
    def load_checkin(
        self, tenant_id: str, customer_id: str, chat_id: str, day: str
    ) -> tuple[Standing | None, str | None]: ...
    def record_checkin(
        self, tenant_id: str, customer_id: str, *, day: str, before: Standing, after: Standing, entry: LedgerEntry
    ) -> str: ...
    def credit_points(self, tenant_id: str, customer_id: str, entry: LedgerEntry) -> bool: ...
    def redeem_points(self, tenant_id: str, customer_id: str, redemption: Redemption) -> Redemption: ...
    def points_of(self, tenant_id: str, customer_id: str) -> tuple[Balance, list[Standing]]: ...
    def ledger_page(self, tenant_id: str, customer_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> list[BoardEntry]: ...


class PointsService:
    def __init__(self, repo: PointsRepo, clock: Clock, tasks: TaskSink, signals: SignalPublisher | None = None) -> None:
        self.repo = repo
        self.clock = clock
        self.tasks = tasks
        self.signals = signals or NoSignals()  # "checked_in", for the metrics

    # --- check-ins (a SignalBus subscriber) -------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        """A check-in signal, or a group message that carries the group's keyword, checks the customer in."""
        if not signal.chat_id or not signal.ref or signal.type not in SIGNALS:
            return
        rule = self.rule(tenant.tenant_id, signal.chat_id)
        if signal.type == REPLY and not matches(rule.keyword, signal.text):
            return
        self.check_in(tenant, customer_id, chat_id=signal.chat_id, at=signal.at, ref=signal.ref, rule=rule)

    def check_in(
        self, tenant: Tenant, customer_id: str, *, chat_id: str, at: datetime, ref: str, rule: CheckinRule
    ) -> str:
        """Check in once per tenant-local day: ``applied``, ``duplicate`` (another check-in holds the day) or
        ``replayed`` (this ref, the fact, holds it: a fact's day never changes, so the day is its credit's claim).
        A standing changed concurrently is re-read and decided again."""
        tid, day = tenant.tenant_id, at.astimezone(tenant.zone).date().isoformat()
        for _ in range(MAX_ATTEMPTS):
            before, holder = self.repo.load_checkin(tid, customer_id, chat_id, day)
            outcome = "" if holder is None else REPLAYED if holder == ref else DUPLICATE
            if not outcome:
                before = before or Standing(chat_id)
                after = check_in(before, day=day, points=rule.points, reached=utc_key(at))
                after, reward = with_reward(before, after, customer_id, rule.reward_streak)
                if after.score > MAX_SCORE:
                    raise InvalidError("the group score would exceed what a leaderboard holds")
                entry = LedgerEntry(ref, rule.points, CHECKIN_REASON, iso_of(at, tenant.zone), chat_id)
                try:
                    outcome = self.repo.record_checkin(
                        tid, customer_id, day=day, before=before, after=after, entry=entry
                    )
                except ConflictError:
                    continue
                if outcome == APPLIED:
                    credited = Signal(CHECKED_IN, at, kind=day, chat_id=chat_id, ref=ref)
                    self.signals.publish(tenant, customer_id, credited)
                if outcome == APPLIED and reward is not None:
                    self._reward(tenant, customer_id, reward, rule.reward_streak)
            count(f"Checkin.{outcome}")
            logger.info("check-in", extra={"tenant": tid, "customer_id": customer_id, "outcome": outcome})
            return outcome
        raise ConflictError("the customer's standing kept changing concurrently")

    def _reward(self, tenant: Tenant, customer_id: str, key: str, threshold: int) -> None:
        """The owner's reward task, once per streak run (its dedupe key names the run's first day)."""
        customer = self.repo.get_customer(tenant.tenant_id, customer_id)
        if customer is None:
            return
        self.tasks.follow_up(
            tenant.tenant_id,
            customer_id=customer_id,
            owner_userid=customer.owner_userid,
            reason="streak_reward",
            text=f"连续打卡{threshold}天，请发放奖励",
            due=self.clock.now(),
            dedupe_key=key,
            kind="reward",
        )
        count("Checkin.reward")

    # --- rules ------------------------------------------------------------------------------------------------

    def rule(self, tenant_id: str, chat_id: str | None = None) -> CheckinRule:
        tenant_default, group = self.repo.checkin_rules(tenant_id, chat_id)
        return effective_rule(tenant_default, group)

    def rule_view(self, tenant_id: str, chat_id: str | None = None) -> dict[str, Any]:
        """The rule in force; for a group, also the fields it overrides (the rest are the tenant's)."""
        tenant_default, group = self.repo.checkin_rules(tenant_id, chat_id)
        body = effective_rule(tenant_default, group).public()
        if chat_id is not None:
            body.update({"chat_id": chat_id, "overrides": group})
        return body

    def set_rule(self, tenant_id: str, chat_id: str | None, rule: dict[str, Any]) -> dict[str, Any]:
        """Replace the tenant's default (fields left out take the built-in ones) or a group's override (fields left
        out follow the tenant's default)."""
        self.repo.put_checkin_rule(tenant_id, chat_id, {n: v for n, v in rule.items() if v is not None})
        return self.rule_view(tenant_id, chat_id)

    # --- the ledger -------------------------------------------------------------------------------------------

    def credit(self, tenant: Tenant, customer_id: str, *, points: int, reason: str, ref: str) -> bool:
        """Credit points once per ``ref``: False when that ref was credited already."""
        entry = LedgerEntry(ref, points, reason, iso_of(self.clock.now(), tenant.zone))
        return self.repo.credit_points(tenant.tenant_id, customer_id, entry)

    def points(
        self, tenant: Tenant, customer_id: str, *, cursor: str | None, limit: int, only_owner: str | None = None
    ) -> dict[str, Any]:
        """Balance, the standing (score and streaks) in each group, and a page of the ledger, newest first."""
        self._customer(tenant.tenant_id, customer_id, only_owner)
        balance, standings = self.repo.points_of(tenant.tenant_id, customer_id)
        page = self.repo.ledger_page(tenant.tenant_id, customer_id, cursor=cursor, limit=limit)
        return {
            "customer_id": customer_id,
            **balance.public(),
            "groups": [s.public() for s in standings],
            "ledger": [e.public() for e in page.items],
            "next_cursor": page.next_cursor,
        }

    def redeem(
        self, tenant: Tenant, customer_id: str, body: dict[str, Any], *, only_owner: str | None = None
    ) -> dict[str, Any]:
        """Debit once per redemption_id, never below zero. A repeat answers the first outcome (a refusal too);
        the same id with other points or reason is a 409."""
        self._customer(tenant.tenant_id, customer_id, only_owner)
        asked = Redemption(
            body["redemption_id"], body["points"], body.get("reason", ""), iso_of(self.clock.now(), tenant.zone)
        )
        outcome = self.repo.redeem_points(tenant.tenant_id, customer_id, asked)
        count(f"Redemption.{outcome.status}")
        if not outcome.same_request(asked):
            raise ConflictError(
                f"redemption {asked.redemption_id} was already made with other points or reason",
                code="redemption_id_reused",
            )
        if outcome.status == SHORT:
            raise ConflictError(
                f"the balance is short of {asked.points} points; nothing was redeemed", code="insufficient_points"
            )
        balance, _ = self.repo.points_of(tenant.tenant_id, customer_id)
        return {**outcome.public(), "balance": balance.balance}

    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> dict[str, Any]:
        """A group's top ``limit`` by points earned in its check-ins (ties: who got there first)."""
        entries = self.repo.leaderboard(tenant_id, chat_id, limit=limit)
        return {"chat_id": chat_id, "items": [e.public(rank) for rank, e in enumerate(entries, start=1)]}

    def _customer(self, tenant_id: str, customer_id: str, only_owner: str | None) -> Customer:
        customer = self.repo.get_customer(tenant_id, customer_id)
        if customer is None or (only_owner and customer.owner_userid != only_owner):
            raise NotFoundError(f"customer {customer_id} does not exist")
        return customer
