"""The plan simulator's records — the synthetic cohort it runs, the preview lines and touch occurrences it returns —
and their JSON (``POST /t/{tenant_id}/plans/{plan_id}/simulate``). ``simulate.py`` runs them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.instants import iso_of, parse_bounded_instant


@dataclass(frozen=True)
class SimEvent:
    """Something a synthetic customer does: an order (``kind`` trial/full), a reply (``text``), a tag (``tag_id``)."""

    at: datetime
    type: str
    kind: str | None = None
    text: str | None = None
    tag_id: str | None = None


@dataclass(frozen=True)
class SimCustomer:
    """A synthetic customer: joins (enrolls) at ``joined_at``, then does ``events``. ``tags`` are held at the join."""

    id: str
    joined_at: datetime
    events: Sequence[SimEvent] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimTouch:
    """One line of the preview: what happened to one step (or follow-up, or hand-off) of one customer, and why.

    ``reason`` is the rule that dropped or skipped it, or the first rule that moved a task (None if untouched);
    ``reasons`` is the whole path in order; ``handoff`` names the plan a silent customer moves to.
    """

    customer: str
    step_id: str
    planned_at: datetime
    due_at: datetime
    outcome: str
    reason: str | None = None
    reasons: tuple[str, ...] = ()
    handoff: str | None = None


@dataclass(frozen=True)
class SimOccurrence:
    """One touch occurrence as the engine records it: its due time, its final state (sent | skipped | dropped) and
    the touch's reason (``moved:<rule>`` for an occurrence a move closed), decided at ``fired_at``."""

    customer: str
    step_id: str
    occurrence: int
    due_at: datetime
    state: str
    reason: str | None
    fired_at: datetime


# --- JSON ----------------------------------------------------------------------------------------------------------


def to_json(touches: Iterable[SimTouch], zone: ZoneInfo) -> dict[str, Any]:
    """The simulate endpoint's response: ISO-8601 times with the tenant's offset. ``reasons`` and ``handoff`` extend
    the issue's shape (the full path of rules, the silent-customer plan)."""
    return {
        "touches": [
            {
                "customer": t.customer,
                "step_id": t.step_id,
                "planned_at": iso_of(t.planned_at, zone),
                "due_at": iso_of(t.due_at, zone),
                "outcome": t.outcome,
                "reason": t.reason,
                "reasons": list(t.reasons),
                "handoff": t.handoff,
            }
            for t in touches
        ]
    }


def cohort_from_json(items: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> list[SimCustomer]:
    """The request's cohort as SimCustomers; a time without an offset is read in the tenant's zone.

    Shape checks belong to the endpoint's JSON Schema; this only converts.
    """
    cohort = []
    for n, item in enumerate(items):
        events = tuple(
            SimEvent(
                at=_instant(e["at"], zone, f"cohort/{n}/events/{m}/at"),
                type=str(e["type"]),
                kind=e.get("kind"),
                text=e.get("text"),
                tag_id=e.get("tag_id"),
            )
            for m, e in enumerate(item.get("events", ()))
        )
        cohort.append(
            SimCustomer(
                id=str(item["id"]),
                joined_at=_instant(item["joined_at"], zone, f"cohort/{n}/joined_at"),
                events=events,
                tags=tuple(item.get("tags", ())),
            )
        )
    return cohort


def _instant(value: Any, zone: ZoneInfo, path: str) -> datetime:
    """A cohort time, in datetime's safe range (a run adds up to a year of plan offsets to it); ValueError names it."""
    try:
        return parse_bounded_instant(str(value), zone)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
