"""Keys of the hot leads and the alerts outbox (issue 13). Part of the one keys module (re-exported by
keys/__init__.py, so callers write ``keys.hot_gsi_pk``)."""

from __future__ import annotations

HOT_SK = "HOT"  # a customer's hot state, in the customer's partition: erasure deletes it with the partition
ALERT_SK = "ALERT"


def hot_gsi_pk(tenant_id: str, userid: str) -> str:
    """gsi1 partition of one owner's hot leads (sparse: a cleared customer leaves it)."""
    return f"T#{tenant_id}#HOT#{userid}"


def hot_gsi_sk(hot_key: str, customer_id: str) -> str:
    """``<when it became hot, UTC key>#<cid>``: newest first with a backwards Query, the oldest cut by a bound."""
    return f"{hot_key}#{customer_id}"


def alert_pk(tenant_id: str, alert_id: str) -> str:
    """An alert's outbox item (its id derives from its dedupe key: a repeat finds it)."""
    return f"T#{tenant_id}#ALERT#{alert_id}"


def alerts_due_pk(tenant_id: str) -> str:
    """gsi1 partition of the tenant's alerts still to send (sparse: a sent, failed or skipped alert leaves it)."""
    return f"T#{tenant_id}#ALERTS"


def alerts_due_sk(due_key: str, alert_id: str) -> str:
    return f"{due_key}#{alert_id}"


def alerts_due_upto(until_key: str) -> str:
    """The greatest gsi1 sort key of an alert due at ``until_key``."""
    return f"{until_key}#~"


def alert_rate_pk(tenant_id: str, userid: str) -> str:
    """One member's send counters (per calendar minute ``M#…`` and hour ``H#…``), expiring after two hours."""
    return f"T#{tenant_id}#ALERTRATE#{userid}"


def alert_rate_sk(window: str, key: str) -> str:
    return f"{'H' if window == 'hour' else 'M'}#{key}"
