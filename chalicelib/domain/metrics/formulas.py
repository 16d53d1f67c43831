"""The field's formulas (issue 11 §2), each written once: docs/metrics.md defines them in the same order. Pure.

Inputs are counter sums over a range (``Counters``: name → n, as domain/metrics/facts.py names them); outputs are
plain numbers, ``None`` where a ratio has nothing under it. Money is in fen; rates are fractions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.domain.metrics import facts as f

Counters = Mapping[str, int]


def total(rows: Iterable[Counters]) -> dict[str, int]:
    """Counter sums over rows (days, or dimension values)."""
    out: dict[str, int] = {}
    for row in rows:
        for name, n in row.items():
            out[name] = out.get(name, 0) + n
    return out


def ratio(top: float, bottom: float) -> float | None:
    return None if not bottom else top / bottom


def by_prefix(c: Counters, prefix: str) -> dict[str, int]:
    """``lost#ended`` → ``{"ended": n}``, and the like."""
    return {name[len(prefix) :]: n for name, n in c.items() if name.startswith(prefix)}


def percentile(histogram: Mapping[str, int], q: float) -> int | None:
    """The q-quantile of a latency histogram (``lat#<bound>`` → count) as the bound of the bucket holding it, in
    seconds (an upper bound: buckets are facts.LATENCY_BOUNDS); None without observations, -1 past the last bound."""
    buckets = sorted(
        ((float("inf") if b == "inf" else int(b)), n) for b, n in by_prefix(histogram, f.LATENCY_BUCKET).items()
    )
    n = sum(count for _, count in buckets)
    if n == 0:
        return None
    seen = 0
    for bound, count in buckets:
        seen += count
        if seen >= q * n:
            return -1 if bound == float("inf") else int(bound)
    return None


def acquisition(c: Counters, *, uv: int, spend: int, group_joins: int = 0) -> dict[str, Any]:
    """A channel's (or a campaign's, a source's, the tenant's) acquisition and conversion figures."""
    new, revenue, persons = c.get(f.NEW, 0), c.get(f.REVENUE, 0), c.get(f.PERSONS, 0)
    lost = c.get(f.LOST, 0)
    return {
        "exposures": uv,
        "adds": c.get(f.ADDS, 0),
        "new": new,
        "readds": c.get(f.READD, 0),
        "add_rate": ratio(c.get(f.ADDS, 0), uv),
        "lost": lost,
        "group_joins": group_joins,
        "join_rate": ratio(group_joins, uv),
        "spend": spend,
        "cac": ratio(spend, new),
        "orders": c.get(f.ORDERS, 0),
        "ordering_persons": persons,
        "trial_persons": c.get(f.TRIAL_PERSONS, 0),
        "free_trial_persons": c.get(f.FREE_TRIAL, 0),
        "paid_trial_persons": c.get(f.PAID_TRIAL, 0),
        "full_persons": c.get(f.FULL_PERSONS, 0),
        "trial_conversion": ratio(c.get(f.TRIAL_PERSONS, 0), new),
        "full_conversion": ratio(c.get(f.FULL_PERSONS, 0), c.get(f.TRIAL_PERSONS, 0)),
        "conversion": ratio(persons, new),
        "revenue": revenue,
        "aov": ratio(revenue, persons),
        "roi": ratio(revenue, spend),
    }


def churn_shares(c: Counters) -> dict[str, float | None]:
    """Each churn reason's share of the losses."""
    lost = c.get(f.LOST, 0)
    return {reason: ratio(n, lost) for reason, n in sorted(by_prefix(c, f.LOST_REASON).items())}


def products(c: Counters) -> list[dict[str, Any]]:
    """Orders, persons and revenue per product (``p#<product>#<counter>``)."""
    rows: dict[str, dict[str, Any]] = {}
    for name, n in by_prefix(c, f.PRODUCT).items():
        product, _, counter = name.rpartition("#")
        rows.setdefault(product, {"product": product, "orders": 0, "persons": 0, "revenue": 0})[counter] = n
    return sorted(rows.values(), key=lambda r: (-r["revenue"], r["product"]))


def step(c: Counters) -> dict[str, Any]:
    """A plan step's delivery, replies and conversions (last touch within the attribution window)."""
    delivered, skipped = c.get(f.DELIVERED, 0), c.get(f.SKIPPED, 0)
    return {
        "delivered": delivered,
        "skipped": skipped,
        "skipped_by_reason": dict(sorted(by_prefix(c, f.SKIPPED_REASON).items())),
        "holdout": c.get(f.SKIPPED_REASON + "holdout", 0),
        "replies": c.get(f.REPLIES, 0),
        "reply_rate": ratio(c.get(f.REPLIES, 0), delivered),
        "conversions": c.get(f.CONVERSIONS, 0),
        "conversion_revenue": c.get(f.CONVERSION_REVENUE, 0),
    }


def plan_arms(c: Counters) -> dict[str, Any]:
    """A plan's two arms: enrolled and converted (first order while enrolled), treated and holdout."""
    treated, held = c.get(f.ENROLLED, 0), c.get(f.HOLDOUT_ENROLLED, 0)
    converted, held_converted = c.get(f.CONVERTED, 0), c.get(f.HOLDOUT_CONVERTED, 0)
    return {
        "enrolled": treated,
        "converted": converted,
        "holdout_enrolled": held,
        "holdout_converted": held_converted,
        "treated_rate": ratio(converted, treated),
        "holdout_rate": ratio(held_converted, held),
        "exited": c.get(f.EXITED, 0),
    }


def staff(c: Counters) -> dict[str, Any]:
    """A staff member's adds, orders, touches and task confirmation (latency percentiles from the histogram)."""
    confirmed = c.get(f.TASKS_CONFIRMED, 0)
    return {
        "adds": c.get(f.ADDS, 0),
        "new": c.get(f.NEW, 0),
        "lost": c.get(f.LOST, 0),
        "orders": c.get(f.ORDERS, 0),
        "revenue": c.get(f.REVENUE, 0),
        "touches": c.get(f.TOUCHES, 0),
        "tasks_confirmed": confirmed,
        "tasks_sent": c.get(f.TASKS_SENT, 0),
        "sent_on_time_rate": ratio(c.get(f.SENT_ON_TIME, 0), c.get(f.TASKS_SENT, 0)),
        "on_time_rate": ratio(c.get(f.ON_TIME, 0), confirmed),
        "latency_p50": percentile(c, 0.5),
        "latency_p90": percentile(c, 0.9),
        "latency_mean": ratio(c.get(f.LATENCY_SUM, 0), confirmed),
    }


def touches_per_customer_week(week_touches: int, week_touched: int) -> float | None:
    """Touches a reached customer got in a week, on average over whole weeks: their touches / the customers they
    reached (each counted once a week). Over-marketing shows here."""
    return ratio(week_touches, week_touched)


def operations(c: Counters, *, days: int, per_week: float | None = None) -> dict[str, Any]:
    """Tenant-wide activity: messages, daily speakers and active customers (their daily means over the range),
    silent customers (moved to silent), touches per touched customer per week (over-marketing shows here)."""
    return {
        "messages": c.get(f.MESSAGES, 0),
        "speakers_per_day": ratio(c.get(f.SPEAKERS, 0), days),
        "active_per_day": ratio(c.get(f.ACTIVE, 0), days),
        "silent": c.get(f.STAGE_PREFIX + "silent", 0),
        "touches": c.get(f.TOUCHES, 0),
        "tasks_created": c.get(f.TASKS_CREATED, 0),
        "touches_per_customer_week": per_week,
    }


def group(stats: Mapping[str, Any]) -> dict[str, Any]:
    """A group's figures over a range from its day stats (domain/group_facts.stats): join, leave, completion,
    interaction, messages per member, group retention, account retention. Member-days weigh the daily rates."""
    totals, days = stats["totals"], stats["days"]
    member_days = sum(d["members"] or 0 for d in days)
    start, end = totals["members_start"], totals["members_end"]
    members = end or 0
    return {
        "members_start": start,
        "members_end": end,
        "joins": totals["joins"],
        "leaves": totals["leaves"],
        "leave_rate": ratio(totals["leaves"], (start or 0) + totals["joins"]),
        "completion_rate": ratio(totals["completers"], member_days),
        "interaction_rate": ratio(totals["speakers"], member_days),
        "messages": totals["messages"],
        "messages_per_member": ratio(totals["messages"], members),
        "checkins": totals["checkins"],
        "retention": ratio(end or 0, start or 0),
        "account_retention": ratio(totals["joins_with_account"], totals["joins"]),
    }


def cohort(c: Counters) -> dict[str, Any]:
    """A week of adds: how many were added, are still there (not lost), ordered, bought the full course."""
    adds, lost = c.get(f.ADDS, 0), c.get(f.LOST, 0)
    return {
        "adds": adds,
        "lost": lost,
        "retention": ratio(adds - lost, adds),
        "ordering_persons": c.get(f.PERSONS, 0),
        "conversion": ratio(c.get(f.PERSONS, 0), adds),
        "full_persons": c.get(f.FULL_PERSONS, 0),
        "full_conversion": ratio(c.get(f.FULL_PERSONS, 0), adds),
    }
