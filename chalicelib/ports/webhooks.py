"""Ports of the outbound webhooks (issue 14 §6): the subscriptions and the outbox (adapters/dynamodb/webhooks.py;
tests/fakes/webhooks.py), and the one HTTP client that posts to receivers (adapters/webhook_http.py).

Every write is conditional, so a signal heard twice, a second sender or a repeated replay has no second effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.webhooks import Delivery, Subscription


class WebhookRepository(Protocol):
    def put_webhook(self, tenant_id: str, sub: Subscription, *, expected_version: int | None) -> bool:
        """Create (``expected_version`` None: only if the id is new) or replace the version read."""
        ...

    def get_webhook(self, tenant_id: str, webhook_id: str) -> Subscription | None: ...

    def webhook_secret(self, tenant_id: str, sub: Subscription) -> str:
        """The signing secret (the item's, or the secret store's at ``sub.secrets_version``)."""
        ...

    def list_webhooks(self, tenant_id: str) -> list[Subscription]: ...
    def delete_webhook(self, tenant_id: str, webhook_id: str) -> bool: ...

    def create_delivery(self, tenant_id: str, delivery: Delivery) -> bool:
        """Put a new delivery; False if one with its id exists (the same signal, heard again)."""
        ...

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None: ...

    def save_delivery(self, tenant_id: str, delivery: Delivery, *, expected_version: int) -> bool:
        """Replace the delivery if it is still at ``expected_version``."""
        ...

    def due_deliveries(self, tenant_id: str, *, until_key: str, limit: int) -> list[Delivery]:
        """Pending deliveries due at ``until_key`` (UTC key) or before, earliest first."""
        ...

    def subject_head(self, tenant_id: str, webhook_id: str, subject: str) -> str | None:
        """The id of the subject's earliest pending delivery to the subscription (by ``seq``)."""
        ...

    def deliveries(self, tenant_id: str, webhook_id: str, *, status: str, limit: int) -> list[Delivery]:
        """A subscription's ``delivered`` or ``dead`` deliveries, newest first."""
        ...

    def erase_deliveries(self, tenant_id: str, subject: str) -> int:
        """Delete every delivery about ``subject`` to any subscription, in every state (erasure); how many."""
        ...


@dataclass(frozen=True)
class PostResult:
    """What a receiver answered: its HTTP status, or None with ``error`` (timeout, unreachable, blocked)."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
        """POST ``body`` to ``url``; never raises for the receiver's failures (they are the answer)."""
        ...
