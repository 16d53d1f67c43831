"""Plan names: unique per tenant (issue 7 §5). What makes two names the same, and the answer when one is taken."""

from __future__ import annotations

import hashlib
import unicodedata

from chalicelib.errors import ConflictError


def name_key(name: str) -> str:
    """What makes two plan names the same (Unicode-normalised, trimmed, case-folded), as a fixed-length digest: the
    tenant's one claim item per name is keyed by it, so the name itself never reaches a key."""
    normal = unicodedata.normalize("NFKC", name).strip().casefold()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


def name_taken(name: str, holder: str) -> ConflictError:
    """The 409 for a name another plan holds: names the holder, so the caller can import as its new version."""
    return ConflictError(
        f"a plan named {name!r} exists already ({holder}); choose another name, or import as a new version of it",
        code="plan_name_taken",
        details={"plan_id": holder, "name": name},
    )
