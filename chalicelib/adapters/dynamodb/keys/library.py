"""Keys of the content library (素材库) and the script library (话术库): items in the tenant partition, beside its
channels and plans (``T#<tid>``). Part of the one keys module (re-exported by keys/__init__.py)."""

from __future__ import annotations

CONTENT_ITEM_PREFIX = "LIB#"  # a content item (its media_id beside it)
SCRIPT_PREFIX = "SCRIPT#"  # a script (话术)


def content_item_sk(content_id: str) -> str:
    return f"{CONTENT_ITEM_PREFIX}{content_id}"


def script_sk(script_id: str) -> str:
    return f"{SCRIPT_PREFIX}{script_id}"
