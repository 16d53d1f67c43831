"""Keys of the console's sign-in records (issue 13 §1). Part of the one keys module (re-exported by keys/__init__.py).

Each record sits in the tenant partition under the SHA-256 of its secret, with a TTL at its expiry.
"""

from __future__ import annotations

CONSOLE_PREFIX = "CONSOLE#"


def console_sk(kind: str, secret_hash: str) -> str:
    """``CONSOLE#session#<hash>``, ``CONSOLE#link#<hash>``, ``CONSOLE#state#<hash>``."""
    return f"{CONSOLE_PREFIX}{kind}#{secret_hash}"
