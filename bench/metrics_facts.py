"""The metrics bench's customers and their facts (issue 11 §3): deterministic, so a tenant of 1,000 and one of 100,000
have the same configuration and the same kinds of facts in the same proportions. Pure (no store, no clock).

Customer ``i`` is added on day ``i % 7`` through channel ``i % 10`` by staff ``i % 20`` (each channel's round robin
over two staff, so the staff always matches the channel), and then, by fixed residues of ``i``: enrolled in one of
the plans (60%, a tenth of them in its holdout), touched on one step (or skipped: holdout), a message (a third, a
reply to the step when touched), a trial order (20%; free or 9.9 yuan) or a full-price one (5%), lost (1 in 17).
Every fact is built by chalicelib.domain.metrics.recording, as the metrics writer builds it, with the writer's
digest of its identity. ``count`` resolves first occurrences in memory as the store does (a person's marker per
scope and key), so ``fold(count(facts))`` is what recording the same facts leaves in the counters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.metrics import facts as f
from chalicelib.domain.metrics import recording as r
from chalicelib.domain.metrics.facts import MetricFact

TRIAL_FEN, FULL_FEN = 990, 398_000  # a 9.9-yuan trial class, a ¥3,980 full-price course


@dataclass(frozen=True)
class Config:
    """A tenant's configured entities the facts spread over (the same at every size)."""

    zone: ZoneInfo
    days: tuple[str, ...]  # local dates
    channels: tuple[str, ...]  # channel ids
    staff: tuple[str, ...]  # userids; channel c's round robin is staff c and c + len(channels)
    plans: tuple[tuple[str, tuple[str, ...]], ...]  # (plan id, its step ids ``plan.version.step``)


def digest(kind: str, ref: str) -> str:
    """The metrics writer's ref for a fact (services/metrics.py: the log names nobody)."""
    return hashlib.sha256(f"{kind}|{ref}".encode()).hexdigest()[:32]


def _hashed(fact: MetricFact) -> MetricFact:
    return replace(fact, ref=digest(fact.type, fact.ref))


def customer_id(i: int) -> str:
    return f"cmb{i:07d}"


def customer_facts(i: int, cfg: Config) -> list[MetricFact]:
    """Every fact of customer ``i`` (module docstring), in the order they happen."""
    cid = customer_id(i)
    day = cfg.days[i % len(cfg.days)]
    midnight = datetime.combine(date.fromisoformat(day), time(8), tzinfo=cfg.zone)
    at = int((midnight + timedelta(seconds=(i * 7919) % (12 * 3600))).timestamp())
    channel = cfg.channels[i % len(cfg.channels)]
    staff = cfg.staff[i % len(cfg.staff)]
    cohort = r.cohort_of(datetime.fromtimestamp(at, cfg.zone), cfg.zone)
    out = [r.add_fact(f"add:{cid}", at, day, kind="new", channel_id=channel, staff=staff)]
    plans: tuple[tuple[str, bool], ...] = ()
    step: str | None = None
    if i % 5 < 3:
        plan_id, steps = cfg.plans[i % len(cfg.plans)]
        held = (i // 5) % 10 == 0
        plans = ((plan_id, held),)
        on = steps[(i // len(cfg.plans)) % len(steps)]
        out.append(r.enrolled_fact(f"enr:{cid}", at + 600, day, plan_id=plan_id, holdout=held))
        if held:
            out.append(r.touch_fact(f"skip:{cid}:{on}", at + 1200, day, step=on, reason="holdout"))
        else:
            out.append(r.touch_fact(f"touch:{cid}:{on}", at + 1200, day, step=on, touches=1))
            step = on
    if i % 3 == 0:
        out.append(r.message_fact(f"msg:{cid}", at + 1800, day, person=cid, step=step))
    kind = "trial" if i % 10 in (1, 4) else "full" if i % 20 == 7 else None
    if kind is not None:
        amount = FULL_FEN if kind == "full" else 0 if i % 20 == 1 else TRIAL_FEN
        product = "全年班" if kind == "full" else "体验课"
        out.append(
            r.order_fact(
                f"order:{cid}",
                at + 3600,
                day,
                person=cid,
                kind=kind,
                amount_fen=amount,
                product=product,
                channel_id=channel,
                staff=staff,
                cohort=cohort,
                step=step,
                plans=plans,
            )
        )
    if i % 17 == 0:
        reason = "lost" if i % 2 else "ended"
        out.append(
            r.lost_fact(f"lost:{cid}", at + 7200, day, reason=reason, channel_id=channel, staff=staff, cohort=cohort)
        )
    return [_hashed(fact) for fact in out]


def facts_of(customers: range, cfg: Config) -> Iterator[MetricFact]:
    for i in customers:
        yield from customer_facts(i, cfg)


def count(facts: Iterable[MetricFact]) -> Iterator[MetricFact]:
    """Each fact as the store counts it: with the ADDs of the first occurrences that are new (one marker per person,
    scope and key, as adapters/dynamodb/metrics.py claims them), and no person."""
    seen: set[tuple[str, str, str]] = set()
    for fact in facts:
        won = []
        for first in fact.firsts:
            marker = (fact.person or "", first.scope, first.key)
            if fact.person and marker not in seen:
                seen.add(marker)
                won.append(first)
        yield fact.counted(won)


def by_day(folded: dict[tuple[str, str, str], dict[str, int]]) -> dict[str, dict[tuple[str, str], dict[str, int]]]:
    """``fold``'s counters grouped per local day, as ``replace_metric_counters`` writes them (the rebuild's shape)."""
    out: dict[str, dict[tuple[str, str], dict[str, int]]] = {}
    for (dimension, ident, day), counters in folded.items():
        out.setdefault(day, {})[(dimension, ident)] = counters
    return out


def funnel_of(folded: dict[tuple[str, str, str], dict[str, int]]) -> dict[str, int]:
    """What the funnel (by channel) must show for these counters: new customers, trial and full-price persons."""
    channel = [c for (dimension, _, _), c in folded.items() if dimension == f.CHANNEL]
    return {
        "adds": sum(c.get(f.NEW, 0) for c in channel),
        "trial": sum(c.get(f.TRIAL_PERSONS, 0) for c in channel),
        "full": sum(c.get(f.FULL_PERSONS, 0) for c in channel),
    }
