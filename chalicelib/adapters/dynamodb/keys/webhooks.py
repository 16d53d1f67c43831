"""Keys of the outbound webhooks (issue 14 §6). Part of the one keys module (re-exported by keys/__init__.py)."""

from __future__ import annotations

WEBHOOK_PREFIX = "HOOK#"  # a subscription, in the tenant partition: the tenant's webhooks list with one Query
DELIVERY_SK = "WHD"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def delivery_pk(tenant_id: str, delivery_id: str) -> str:
    """A delivery's item; its id derives from the signal, so a signal heard twice finds it (a conditional put)."""
    return f"T#{tenant_id}#WHD#{delivery_id}"


def deliveries_due_pk(tenant_id: str) -> str:
    """gsi1 partition of the tenant's pending deliveries, by when they are due (the sender reads it)."""
    return f"T#{tenant_id}#WHDUE"


def deliveries_status_pk(tenant_id: str, webhook_id: str, status: str) -> str:
    """gsi1 partition of one subscription's delivered or dead deliveries, newest last (the console's lists)."""
    return f"T#{tenant_id}#WH{status.upper()}#{webhook_id}"


def delivery_index_sk(key: str, delivery_id: str) -> str:
    """``<UTC key>#<delivery id>`` in a gsi1 partition (due, delivered or dead)."""
    return f"{key}#{delivery_id}"


def delivery_due_upto(until_key: str) -> str:
    return f"{until_key}#~"


def delivery_subject_pk(tenant_id: str, subject: str) -> str:
    """gsi2 partition of every delivery about one subject (``customer:<cid>``…), to every subscription and in every
    state: erasing a customer deletes it whole; its pending part is each subscription's queue (delivery_queue_sk)."""
    return f"T#{tenant_id}#WHS#{subject}"


def delivery_queue_prefix(webhook_id: str) -> str:
    """The pending part of a subject's gsi2 partition for one subscription, in ``seq`` order: its first item is the
    earliest undelivered event, which a later one waits for."""
    return f"Q#{webhook_id}#"


def delivery_queue_sk(webhook_id: str, seq: str) -> str:
    return f"{delivery_queue_prefix(webhook_id)}{seq}"


def delivery_done_sk(webhook_id: str, seq: str) -> str:
    """A delivery no longer pending (delivered, dead, dropped): still under its subject, out of the queue."""
    return f"X#{webhook_id}#{seq}"


def delivery_of_pk(pk: str) -> str:
    return pk.rsplit("#WHD#", 1)[1]
