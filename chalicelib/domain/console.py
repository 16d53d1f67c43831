"""The console's sign-in (issue 13 §1): sessions, one-use sign-in links and OAuth states, as pure data and rules.

A session is what a browser holds after signing in: its id lives only in the cookie, the store keeps its SHA-256
(as tokens are kept). A *pass* is a one-use record: a sign-in link an admin or ops hands out (the demo's, an
alert's), or the ``state`` of a WeCom OAuth round trip (what the sign-in was for, and where to go after).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.tenants import Role

SESSION_HOURS = 12  # a working day; signing in again after it is one tap inside WeCom
LINK_MINUTES = 15  # a sign-in link works once, within this
STATE_MINUTES = 10  # an OAuth round trip (WeCom's code itself lives 5 minutes)
SESSION = "session"
LINK = "link"
STATE = "state"
KINDS = (SESSION, LINK, STATE)
# Where a sign-in may send the browser next: a path of this tenant's console, never another site.
_NEXT = re.compile(r"^/console/[a-z0-9-]{3,32}(/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$")


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: the tenant, the role (the API's roles), the staff member's userid for staff."""

    tenant_id: str
    role: str
    userid: str | None
    csrf: str  # the token every form carries; compared in constant time
    expires_at: int  # unix seconds
    via: str  # token | link | oauth

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def is_open(self, now: float) -> bool:
        return now < self.expires_at

    @property
    def staff_scope(self) -> str | None:
        """A staff session's own userid (staff see only their own customers and tasks), else None."""
        return self.userid if self.role == Role.STAFF.value else None


@dataclass(frozen=True)
class ConsolePass:
    """A one-use record: a sign-in link (``role``/``userid`` to sign in as) or an OAuth state (``next``)."""

    tenant_id: str
    kind: str  # LINK | STATE
    expires_at: int
    role: str = ""
    userid: str | None = None
    next: str = ""
    created_by: str = ""


def safe_next(tenant_id: str, target: str | None) -> str:
    """Where to go after signing in: ``target`` if it is a path of this tenant's console, else its home."""
    home = f"/console/{tenant_id}/"
    if not target or not _NEXT.match(target) or not target.startswith(f"/console/{tenant_id}"):
        return home
    if "//" in target or "\\" in target:
        return home
    return target
