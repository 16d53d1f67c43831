"""In-memory webhook subscriptions and deliveries outbox with the same conditional semantics as WebhookRepository."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.webhooks import index_keys
from chalicelib.domain.webhooks import PENDING, Delivery, Subscription, webhook_secret_name
from chalicelib.errors import UpstreamError


class FakeWebhookStoreMixin:
    lock: Any

    def _webhooks(self) -> dict[tuple[str, str], Subscription]:
        if not hasattr(self, "_webhook_state"):
            self._webhook_state: dict[tuple[str, str], Subscription] = {}
        return self._webhook_state

    def _hook_deliveries(self) -> dict[tuple[str, str], Delivery]:
        if not hasattr(self, "_webhook_delivery_state"):
            self._webhook_delivery_state: dict[tuple[str, str], Delivery] = {}
        return self._webhook_delivery_state

    def put_webhook(self, tenant_id: str, sub: Subscription, *, expected_version: int | None) -> bool:
        with self.lock:
            current = self._webhooks().get((tenant_id, sub.webhook_id))
            if expected_version is None and current is not None:
                return False
            if expected_version is not None and (current is None or current.version != expected_version):
                return False
            store = getattr(self, "secrets", None)
            if store is not None and sub.secret:  # kept apart, as DynamoStore does with a secret store
                version = store.put(webhook_secret_name(tenant_id, sub.webhook_id), sub.secret)
                sub = replace(sub, secret="", secrets_version=version)
            self._webhooks()[(tenant_id, sub.webhook_id)] = sub
            return True

    def get_webhook(self, tenant_id: str, webhook_id: str) -> Subscription | None:
        return self._webhooks().get((tenant_id, webhook_id))

    def webhook_secret(self, tenant_id: str, sub: Subscription) -> str:
        if sub.secrets_version is None:
            return sub.secret
        store = getattr(self, "secrets", None)
        name = webhook_secret_name(tenant_id, sub.webhook_id)
        secret = None if store is None else store.get(name, sub.secrets_version)
        if secret is None:
            raise UpstreamError(f"webhook {sub.webhook_id}'s secret is missing")
        return str(secret)

    def list_webhooks(self, tenant_id: str) -> list[Subscription]:
        return [s for (t, wid), s in sorted(self._webhooks().items()) if t == tenant_id]

    def delete_webhook(self, tenant_id: str, webhook_id: str) -> bool:
        with self.lock:
            return self._webhooks().pop((tenant_id, webhook_id), None) is not None

    def create_delivery(self, tenant_id: str, delivery: Delivery) -> bool:
        with self.lock:
            if (tenant_id, delivery.delivery_id) in self._hook_deliveries():
                return False
            self._hook_deliveries()[(tenant_id, delivery.delivery_id)] = delivery
            return True

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        return self._hook_deliveries().get((tenant_id, delivery_id))

    def save_delivery(self, tenant_id: str, delivery: Delivery, *, expected_version: int) -> bool:
        with self.lock:
            current = self._hook_deliveries().get((tenant_id, delivery.delivery_id))
            if current is None or current.version != expected_version:
                return False
            self._hook_deliveries()[(tenant_id, delivery.delivery_id)] = delivery
            return True

    def _indexed(self, tenant_id: str, pk: str) -> list[tuple[str, Delivery]]:
        rows = []
        for (t, _), d in self._hook_deliveries().items():
            keys = index_keys(t, d) if t == tenant_id else None
            if keys is not None and keys[0] == pk:
                rows.append((keys[1], d))
        return sorted(rows, key=lambda row: row[0])

    def due_deliveries(self, tenant_id: str, *, until_key: str, limit: int) -> list[Delivery]:
        rows = self._indexed(tenant_id, f"T#{tenant_id}#WHDUE")
        return [d for key, d in rows if key <= f"{until_key}#~"][:limit]

    def subject_head(self, tenant_id: str, webhook_id: str, subject: str) -> str | None:
        queue = sorted(
            (d.seq, d.delivery_id)
            for (t, _), d in self._hook_deliveries().items()
            if t == tenant_id and d.status == PENDING and d.webhook_id == webhook_id and d.subject == subject
        )
        return queue[0][1] if queue else None

    def deliveries(self, tenant_id: str, webhook_id: str, *, status: str, limit: int) -> list[Delivery]:
        rows = self._indexed(tenant_id, f"T#{tenant_id}#WH{status.upper()}#{webhook_id}")
        return [d for _, d in reversed(rows)][:limit]

    def erase_deliveries(self, tenant_id: str, subject: str) -> int:
        with self.lock:
            state = self._hook_deliveries()
            gone = [key for key, d in state.items() if key[0] == tenant_id and d.subject == subject]
            for key in gone:
                del state[key]
            return len(gone)
