"""The real clock and id generator (services get them injected; tests use fixed ones)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Short random ids (prefix + 16 base36 chars ≈ 82 bits), safe as WeCom states (≤ 30 chars)."""

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))

    def secret(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)
