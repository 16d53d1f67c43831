"""Splitting a large bucket's fire into shards (issue 8 §7): pure planning and the shard's wire form.

A shard is a slice of one bucket's scheduled touches, at most ``bound`` of them, grouped by the touches' executor
hints (``Touch.executor``) so that a shard makes one staff task per executor it holds. An executor with more than
``bound`` touches spans several shards (one task in each); executors with few touches share a shard. A touch without
a hint (queued before hints existed) goes to a group chosen by a hash of its subject: its real executor is only
known once the shard reads the subject, so such an executor may get one task in each shard its touches landed in.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.sop import Subject, Touch

UNHINTED = "~"  # group-name prefix of touches without an executor hint (sorts after every userid)


@dataclass(frozen=True)
class Shard:
    """The touches one shard invocation fires (all of one bucket), numbered within the fire that planned it."""

    index: int
    touches: tuple[Touch, ...]


def plan_shards(touches: Sequence[Touch], bound: int) -> list[Shard]:
    """Shards of at most ``bound`` touches each: touches grouped by executor hint, groups over ``bound`` cut into
    pieces of ``bound``, then the pieces packed first-fit (largest first) so small executors share a shard."""
    if bound < 1:
        raise ValueError("a shard holds at least one touch")
    unhinted = sum(1 for t in touches if not t.executor)
    spread = max(1, -(-unhinted // bound))
    groups: dict[str, list[Touch]] = {}
    for touch in touches:
        name = touch.executor or f"{UNHINTED}{zlib.crc32(touch.subject.key.encode()) % spread}"
        groups.setdefault(name, []).append(touch)
    pieces = [members[i : i + bound] for _, members in sorted(groups.items()) for i in range(0, len(members), bound)]
    pieces.sort(key=len, reverse=True)  # stable: equal sizes keep executor order
    bins: list[list[Touch]] = []
    for piece in pieces:
        home = next((b for b in bins if len(b) + len(piece) <= bound), None)
        if home is None:
            bins.append(list(piece))
        else:
            home.extend(piece)
    return [Shard(i, tuple(b)) for i, b in enumerate(bins)]


def shard_payload(tenant_id: str, bucket_id: str, shard: Shard) -> dict[str, Any]:
    """The fire function's event for one shard: the bucket and the shard's scheduled touches, compactly (a row per
    touch: subject kind, subject id, enrollment, step, occurrence, due, executor hint)."""
    rows = [
        [t.subject.kind, t.subject.id, t.enrollment_id, t.step_id, t.occurrence, t.due_at, t.executor]
        for t in shard.touches
    ]
    return {"tenant_id": tenant_id, "bucket_id": bucket_id, "shard": {"index": shard.index, "touches": rows}}


def shard_of(bucket_id: str, data: Any) -> Shard:
    """A shard from its event form (``shard_payload``'s ``shard``); ValueError if it is not one."""
    try:
        touches = tuple(
            Touch(
                bucket_id=bucket_id,
                subject=Subject(str(kind), str(sid)),
                enrollment_id=str(enrollment),
                step_id=str(step),
                occurrence=int(occurrence),
                due_at=str(due),
                executor=str(executor) if executor else None,
            )
            for kind, sid, enrollment, step, occurrence, due, executor in data["touches"]
        )
        return Shard(int(data["index"]), touches)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a shard: {exc}") from exc
