"""Keys of the dashboard's links (issue 11 §4). Part of the one keys module (re-exported by keys/__init__.py, so
callers write ``keys.dashboard_link_sk``)."""

from __future__ import annotations

DASHBOARD_LINK_PREFIX = "DASHLINK#"  # in the tenant partition, beside its tokens; TTL at the link's expiry


def dashboard_link_sk(link_hash: str) -> str:
    return f"{DASHBOARD_LINK_PREFIX}{link_hash}"
