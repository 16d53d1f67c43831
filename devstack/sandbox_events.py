"""The sandbox as a tenant's business-events sender: a member's group message goes to Siyu's
``POST /t/{tenant}/events`` signed the way the README documents (``X-Siyu-Timestamp``, ``X-Siyu-Signature:
sha256=`` HMAC-SHA256 of ``<timestamp>.<body>`` with the tenant's events secret; chalicelib.domain.business_events).

The secret is the tenant's: `make run` gives the sandbox an EventsSecretFile over devstack/.data/events_secret (the
demo tenant's, re-read on every send so a rotation is picked up); a request may also carry it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chalicelib.domain.business_events import sign
from devstack.sandbox_callbacks import Delivery


class EventsSecrets(Protocol):
    """A tenant's events secret, or None when the sandbox does not know it."""

    def __call__(self, tenant_id: str) -> str | None: ...


@dataclass(frozen=True)
class EventsSecretFile:
    """One tenant's secret, kept in a file (devstack/.data/events_secret for the demo tenant)."""

    path: Path
    tenant_id: str

    def __call__(self, tenant_id: str) -> str | None:
        if tenant_id != self.tenant_id:
            return None
        try:
            secret = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return secret or None


def post_event(
    opener: urllib.request.OpenerDirector,
    url: str,
    secret: str,
    event: dict[str, Any],
    *,
    timestamp: int,
    timeout: float,
) -> Delivery:
    """POST one business event, signed at ``timestamp`` (unix seconds on Siyu's clock); one attempt."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    stamp = str(timestamp)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Siyu-Timestamp": stamp,
            "X-Siyu-Signature": sign(secret, stamp, body),
        },
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return Delivery(response.status, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Delivery(exc.code, exc.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        return Delivery(None, f"unreachable: {type(exc).__name__}")
