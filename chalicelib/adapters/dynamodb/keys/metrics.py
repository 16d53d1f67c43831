"""Keys of the funnel metrics (issue 11): the fact log, the day counters, persons' first occurrences. Part of the one
keys module (re-exported by keys/__init__.py)."""

from __future__ import annotations

METRIC_FIRST_PREFIX = "MF#"  # a person's first occurrence, in their own partition (erasure deletes it with them)


def fact_log_pk(tenant_id: str, date: str) -> str:
    """The fact log of one tenant-local day: what a rebuild of that day reads (one partition per day)."""
    return f"T#{tenant_id}#FL#{date}"


def fact_log_sk(fact_type: str, ref: str) -> str:
    """A fact's entry, keyed by its type and identity alone: a replay lands on the same key and is refused."""
    return f"{fact_type}#{ref}"


def fact_counter_pk(tenant_id: str, dimension: str, dimension_id: str) -> str:
    """A dimension value's day counters, written only from facts (so a rebuild may replace them whole). The older
    ``metric_pk`` items (exposures ``uv``, group joins) are their own facts' and stay apart."""
    return f"T#{tenant_id}#MC#{dimension}#{dimension_id}"


def fact_counter_sk(date: str) -> str:
    return f"D#{date}"


def spend_pk(tenant_id: str, channel_id: str) -> str:
    """A channel's spend (投放成本) per day, as ops set it (not a fact: the latest value stands)."""
    return f"T#{tenant_id}#SPEND#{channel_id}"


def metric_first_sk(scope: str, key: str) -> str:
    """A person's first occurrence in ``scope`` (a day, a product, a plan: ``key``), in the customer's partition."""
    return f"{METRIC_FIRST_PREFIX}{scope}#{key}"


def metrics_rebuilt_sk(date: str) -> str:
    """In the tenant's partition: the nightly rebuild of ``date`` (and the day before) ran."""
    return f"MREBUILT#{date}"
