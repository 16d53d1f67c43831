"""The customer filter both the JSON API and the console read from a query (tag, stage, channel, owner, dates): one
place, so a filter means the same wherever it is typed."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from chalicelib.domain.customers import Stage
from chalicelib.domain.instants import parse_instant, utc_key
from chalicelib.errors import InvalidError
from chalicelib.ports import CustomerFilter


def customer_filter(q: dict[str, str], zone: ZoneInfo) -> CustomerFilter:
    """The customer filter of a query (or a bulk job's body); dates without an offset are read in ``zone``."""
    stage = q.get("stage")
    if stage is not None and stage not in {s.value for s in Stage}:
        raise InvalidError(f"stage must be one of {', '.join(s.value for s in Stage)}")
    bounds: dict[str, str | None] = {"added_from": None, "added_to": None}
    for name in bounds:
        if q.get(name):
            try:
                bounds[name] = utc_key(parse_instant(q[name], zone))
            except ValueError as exc:
                raise InvalidError(f"{name} must be an ISO-8601 date or date-time") from exc
    return CustomerFilter(
        tag=q.get("tag"),
        stage=stage,
        channel_id=q.get("channel"),
        owner_userid=q.get("owner"),
        added_from=bounds["added_from"],
        added_to=bounds["added_to"],
    )
