"""Check-ins (打卡), points, streaks and redemptions: the pure rules (no clock, no storage).

A check-in is one per customer, group and tenant-local day. It credits the group rule's points to the customer's
ledger and to their score in that group (the group's leaderboard ranks that score), and moves their streak in the
group: consecutive local days with a check-in; a missed day starts a new run. A run that reaches the rule's reward
streak earns a reward task for the customer's owner, once per run.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

DEFAULT_KEYWORD = "打卡"
DEFAULT_POINTS = 10
DEFAULT_REWARD_STREAK = 7
MAX_SCORE = 10**12 - 1  # what a leaderboard key can encode (12 digits); credits beyond it are refused
RULE_FIELDS = ("keyword", "points", "reward_streak")

CHECKIN_REASON = "checkin"  # a ledger entry's reason for a check-in's credit
REDEMPTION_REASON_PREFIX = "redeem"
APPLIED, DUPLICATE, SHORT = "applied", "duplicate", "insufficient_points"


@dataclass(frozen=True)
class CheckinRule:
    """What counts as a check-in in a group and what it earns. A group's override names only the fields it
    changes; the rest come from the tenant's default, then from these defaults."""

    keyword: str = DEFAULT_KEYWORD
    points: int = DEFAULT_POINTS
    reward_streak: int = DEFAULT_REWARD_STREAK

    def public(self) -> dict[str, Any]:
        return {"keyword": self.keyword, "points": self.points, "reward_streak": self.reward_streak}


def effective_rule(tenant_default: dict[str, Any] | None, group: dict[str, Any] | None) -> CheckinRule:
    """The rule a group runs on: its own fields over the tenant's default over the built-in one."""
    fields: dict[str, Any] = {}
    for layer in (tenant_default or {}, group or {}):
        fields.update({n: layer[n] for n in RULE_FIELDS if layer.get(n) is not None})
    return CheckinRule(**fields)


def normalize(text: str) -> str:
    """Full-width forms folded (＃打卡 is #打卡), case folded, spaces dropped: what people type in a group varies."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def matches(keyword: str, text: str | None) -> bool:
    """A group message is a check-in when its text contains the keyword (``Day3 打卡✅`` counts; ``签到`` does
    not for 打卡)."""
    wanted = normalize(keyword)
    return bool(text) and bool(wanted) and wanted in normalize(text or "")


@dataclass(frozen=True)
class Standing:
    """A customer's standing in one group: their score there (points from the group's check-ins), their check-ins,
    the current run of consecutive days and the best. ``reached`` is the UTC key of the check-in that set the
    score: among equal scores the earlier ranks first. ``version`` guards every change."""

    chat_id: str
    score: int = 0
    checkins: int = 0
    streak: int = 0
    best: int = 0
    last_day: str = ""
    run_start: str = ""
    reached: str = ""
    version: int = 0
    rewards: tuple[str, ...] = ()  # the reward tasks' dedupe keys (``reward_key``): erasure finds the tasks by them

    def public(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "points": self.score,
            "checkins": self.checkins,
            "streak": self.streak,
            "best_streak": self.best,
            "last_day": self.last_day or None,
        }


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def check_in(before: Standing, *, day: str, points: int, reached: str) -> Standing:
    """The standing after a check-in on local ``day`` (the caller made sure it is the day's first). The day after
    the last continues the run; a later one starts a new run; an earlier one (a late event) adds its points and
    count but leaves the run alone: a streak only moves forward."""
    streak, run_start, last_day = before.streak, before.run_start, before.last_day
    if not last_day or day > last_day:
        if last_day and day == _next_day(last_day):
            streak += 1
        else:
            streak, run_start = 1, day
        last_day = day
    return replace(
        before,
        score=before.score + points,
        checkins=before.checkins + 1,
        streak=streak,
        best=max(before.best, streak),
        last_day=last_day,
        run_start=run_start,
        reached=reached,
        version=before.version + 1,
    )


def reward_earned(before: Standing, after: Standing, threshold: int) -> bool:
    """Whether this check-in brought the run to the reward streak (a run passes each length once)."""
    return threshold > 0 and after.streak == threshold and before.streak != threshold


def reward_key(chat_id: str, customer_id: str, run_start: str, threshold: int) -> str:
    """The reward task's dedupe key: one per (group, customer, run, threshold), however often it is asked for."""
    return f"reward#{chat_id}#{customer_id}#{run_start}#{threshold}"


def with_reward(before: Standing, after: Standing, customer_id: str, threshold: int) -> tuple[Standing, str | None]:
    """``after``, and the reward's dedupe key when this check-in earned one (kept in the standing, so the task is
    found again, by erasure for one)."""
    if not reward_earned(before, after, threshold):
        return after, None
    key = reward_key(after.chat_id, customer_id, after.run_start, threshold)
    return replace(after, rewards=(*after.rewards, key)), key


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of a customer's points: positive a credit, negative a redemption. ``ref`` is its identity: a
    second entry with the same ref is the first one again."""

    ref: str
    points: int
    reason: str
    at: str  # tenant-local ISO instant
    chat_id: str | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ref": self.ref, "points": self.points, "reason": self.reason, "at": self.at}
        if self.chat_id:
            body["chat_id"] = self.chat_id
        return body


@dataclass(frozen=True)
class Balance:
    balance: int = 0
    earned: int = 0
    spent: int = 0

    def public(self) -> dict[str, int]:
        return {"balance": self.balance, "earned": self.earned, "spent": self.spent}


@dataclass(frozen=True)
class Redemption:
    """A redemption request and, once recorded, its outcome: ``applied`` or ``insufficient_points``. A repeat
    of its redemption_id answers this record."""

    redemption_id: str
    points: int
    reason: str
    at: str
    status: str = APPLIED

    @property
    def ref(self) -> str:
        return redemption_ref(self.redemption_id)

    def same_request(self, other: Redemption) -> bool:
        return (self.points, self.reason) == (other.points, other.reason)

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"redemption_id": self.redemption_id, "points": self.points, "reason": self.reason}
        body.update({"status": self.status, "at": self.at})
        return body


def redemption_ref(redemption_id: str) -> str:
    """A redemption's ledger ref: its own id space, apart from credits' refs."""
    return f"rd:{redemption_id}"


@dataclass(frozen=True)
class BoardEntry:
    """A row of a group's leaderboard, as stored beside the others in the group's board partition."""

    customer_id: str
    score: int
    checkins: int
    streak: int
    reached: str

    def public(self, rank: int) -> dict[str, Any]:
        body = {"rank": rank, "customer_id": self.customer_id, "points": self.score}
        body.update({"checkins": self.checkins, "streak": self.streak})
        return body
