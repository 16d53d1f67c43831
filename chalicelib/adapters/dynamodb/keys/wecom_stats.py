"""Keys of WeCom's own statistics as fetched (issue 11 §2, 与企业微信数据核对). Part of the one keys module
(re-exported by keys/__init__.py, so callers write ``keys.wecom_day_sk``)."""

from __future__ import annotations

# One partition per tenant, apart from the tenant partition: a range of days is one Query, and the partition holds
# one small item a day, nothing else.
WECOM_DAY_PREFIX = "D#"


def wecom_stats_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#WXSTAT"


def wecom_day_sk(day: str) -> str:
    """The tenant-local day "YYYY-MM-DD": sort keys in day order, so a range of days is a BETWEEN."""
    return f"{WECOM_DAY_PREFIX}{day}"
