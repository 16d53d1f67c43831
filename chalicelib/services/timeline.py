"""A page of one customer's timeline: every part of their story, newest first, with an opaque cursor.

A page is one Query of the customer's partition under the timeline prefix (domain/timeline.py). When a page reads a
month item whose entries reach below its last fact, a second Query reads the rest of that stretch (bounded by one
month of the customer's facts), so no later page can hold a newer entry. Staff tasks are shown with their current
status and confirmation: one BatchGetItem of the page's touches and one of their task heads (none without touches).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain import timeline as tl
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import iso_local
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.timeline import Entry, TimelineItem
from chalicelib.errors import InvalidError

MAX_ROUNDS = 3  # extension rounds of one page: each only ever lowers the bound, and a month item spans one month
CURSOR_KEY = re.compile(r"F#[!-~]{1,200}")  # a timeline key: printable ASCII, as every key this module builds
BEFORE_MARGIN = 33 * 86400  # a month item is keyed up to a month (plus zones) after its oldest entry


class TimelineRepo(Protocol):
    def timeline_items(
        self, tenant_id: str, customer_id: str, *, below: str, above: str = tl.PREFIX, limit: int | None = None
    ) -> tuple[list[TimelineItem], bool]: ...
    def touch_tasks(self, tenant_id: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]: ...
    def task_heads(self, tenant_id: str, task_ids: list[str]) -> dict[str, StaffTask]: ...


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        below, before = data["k"], data.get("b")
        ok = isinstance(below, str) and CURSOR_KEY.fullmatch(below) is not None
        ok = ok and (before is None or (isinstance(before, int) and 0 <= before < 10**10))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidError("cursor is not valid") from exc
    if not ok:
        raise InvalidError("cursor is not valid")
    return below, before


class TimelineService:
    def __init__(self, repo: TimelineRepo) -> None:
        self.repo = repo

    def page(
        self,
        tenant_id: str,
        customer: Customer,
        zone: ZoneInfo,
        *,
        limit: int,
        cursor: str | None = None,
        before: datetime | None = None,
    ) -> dict[str, Any]:
        """``{"items": [...], "next_cursor": ...}``: up to about ``limit`` stored items' entries, newest first. The
        cursor is a key bound inside this customer's partition (the route checks the customer first), so a forged
        one can only move within the same customer's story."""
        if cursor:
            below, bound = _decode(cursor)
        elif before is not None:
            bound = int(before.timestamp())
            below = tl.bound_sk(bound + BEFORE_MARGIN)
        else:
            below, bound = tl.PREFIX + "~", None
        items, more = self.repo.timeline_items(tenant_id, customer.customer_id, below=below, limit=limit)
        floor: int | None = None  # every item keyed at or after this time has been read
        for _ in range(MAX_ROUNDS):
            low = tl.lowest_entry(items) if more and items else None
            if low is None or (floor is None and items[-1].time <= low) or (floor is not None and low >= floor):
                break
            start = items[-1].sk if floor is None else tl.bound_sk(floor)
            extra, _ = self.repo.timeline_items(tenant_id, customer.customer_id, below=start, above=tl.bound_sk(low))
            items, floor = items + extra, low
        next_below = tl.bound_sk(floor) if floor is not None else (items[-1].sk if items else below)
        entries = tl.ordered(items, before=bound)
        if not more:
            entries += [e for e in [self._first_add(customer)] if bound is None or e.time < bound]
        return {
            "items": self._render(tenant_id, customer.customer_id, entries, zone),
            "next_cursor": _encode({"k": next_below, "b": bound}) if more else None,
        }

    @staticmethod
    def _first_add(customer: Customer) -> Entry:
        """The customer's first add has no fact of its own: the profile is it (intake's one write for a new
        customer), so the oldest entry is rendered from the profile."""
        return Entry(
            time=tl.epoch_of(customer.added_at),
            type="add_external_contact",
            at=customer.added_at,
            userid=customer.owner_userid,
            channel_id=customer.source_channel_id or "",
            detail={"first": True},
        )

    def _render(self, tenant_id: str, customer_id: str, entries: list[Entry], zone: ZoneInfo) -> list[dict[str, Any]]:
        """Public entries, each staff task with its current status (sent touches and positive replies)."""

        def touch_ref(e: Entry) -> tuple[str, str] | None:
            if e.type != "touch" or e.detail.get("outcome") != "sent":
                return None
            return e.detail["bucket"], f"{customer_id}#{e.detail['touch']}"

        refs = [r for r in map(touch_ref, entries) if r is not None]
        by_touch = self.repo.touch_tasks(tenant_id, refs) if refs else {}
        follow_ups = {
            i: tl.follow_up_task_id(e.ref)
            for i, e in enumerate(entries)
            if e.type == "message" and e.detail.get("reply") == "positive" and e.ref
        }
        wanted = list(by_touch.values()) + list(follow_ups.values())
        heads = self.repo.task_heads(tenant_id, wanted) if wanted else {}
        out = []
        for i, e in enumerate(entries):
            body = e.public()
            if not body["at"]:
                body["at"] = iso_local(e.time, zone)
            ref = touch_ref(e)
            task_id = by_touch.get(ref) if ref is not None else follow_ups.get(i)
            if task_id and task_id in heads:
                body["task"] = _task_view(heads[task_id])
            out.append(body)
        return out


def _task_view(task: StaffTask) -> dict[str, Any]:
    view: dict[str, Any] = {"task_id": task.task_id, "kind": task.kind, "status": task.status, "userid": task.userid}
    if task.status == "confirmed":
        view["confirmed"] = True
    return view
