"""Outbound webhooks (issue 14 §6): subscriptions and the deliveries outbox (docs/data-model.md, docs/webhooks.md).

Keys (keys/webhooks.py):
- subscription: ``T#<tid>`` / ``HOOK#<webhook_id>``, ``version`` (every change is conditional on it), ``doc``.
- delivery: ``T#<tid>#WHD#<delivery_id>`` / ``WHD``, ``version``, ``status``, ``doc`` (ids only: no personal data).
  gsi1 by status: pending ``T#<tid>#WHDUE`` / ``<due UTC>#<id>`` (the sender's queue); delivered and dead
  ``T#<tid>#WH<STATUS>#<webhook_id>`` / ``<when UTC>#<id>`` (the console's lists). gsi2 by subject, in every
  state: ``T#<tid>#WHS#<subject>`` / ``Q#<webhook_id>#<seq>`` while pending (each subscription's queue of the
  subject, whose head goes first), ``X#<webhook_id>#<seq>`` after (so a customer's erasure finds them all). TTL 30
  days.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.instants import utc_key
from chalicelib.domain.webhooks import (
    DEAD,
    DELIVERED,
    DELIVERY_TTL_DAYS,
    PENDING,
    Delivery,
    Subscription,
    webhook_secret_name,
)
from chalicelib.errors import UpstreamError
from chalicelib.ports import SecretStore


class WebhookItem(SiyuItem, discriminator="webhook"):
    """A subscription: ``version`` is what every change is conditional on; the rest in ``doc``."""

    version = NumberAttribute(default=1)


class WebhookDeliveryItem(SiyuItem, discriminator="webhook_delivery"):
    """A delivery in the outbox: ``version`` is what every change is conditional on."""

    version = NumberAttribute(default=1)
    status = UnicodeAttribute()


def _sub(item: WebhookItem) -> Subscription:
    doc = json.loads(item.doc or "{}")
    return Subscription(**{**doc, "events": tuple(doc["events"]), "pii": tuple(doc.get("pii", ()))})


def _delivery(item: WebhookDeliveryItem) -> Delivery:
    return Delivery(**json.loads(item.doc or "{}"))


def index_keys(tenant_id: str, d: Delivery) -> tuple[str, str] | None:
    """Where the delivery sits in gsi1: pending at its due time, delivered or dead at when it became so."""
    if d.status == PENDING:
        return k.deliveries_due_pk(tenant_id), k.delivery_index_sk(utc_key(_at(d.due_at)), d.delivery_id)
    when = d.delivered_at if d.status == DELIVERED else d.dead_at if d.status == DEAD else None
    if when is None:
        return None
    pk = k.deliveries_status_pk(tenant_id, d.webhook_id, d.status)
    return pk, k.delivery_index_sk(utc_key(_at(when)), d.delivery_id)


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _delivery_item(tenant_id: str, d: Delivery) -> WebhookDeliveryItem:
    index = index_keys(tenant_id, d)
    queued = d.status == PENDING
    by_subject = k.delivery_queue_sk(d.webhook_id, d.seq) if queued else k.delivery_done_sk(d.webhook_id, d.seq)
    last = max(_at(x) for x in (d.created_at, d.due_at, d.delivered_at, d.dead_at) if x)
    return WebhookDeliveryItem(
        pk=k.delivery_pk(tenant_id, d.delivery_id),
        sk=k.DELIVERY_SK,
        version=d.version,
        status=d.status,
        doc=json.dumps(asdict(d), ensure_ascii=False, sort_keys=True),
        gsi1pk=index[0] if index else None,
        gsi1sk=index[1] if index else None,
        gsi2pk=k.delivery_subject_pk(tenant_id, d.subject),
        gsi2sk=by_subject,
        expires_at=last + timedelta(days=DELIVERY_TTL_DAYS),
    )


class WebhookRepository(DynamoBase):
    secrets: SecretStore | None = None  # deployed: signing secrets in SSM (as tenant credentials); None: in the item

    # --- subscriptions --------------------------------------------------------------------------------------------

    def put_webhook(self, tenant_id: str, sub: Subscription, *, expected_version: int | None) -> bool:
        """Create (``expected_version`` None: only if new) or replace the version read; False if someone won. With
        a secret store a new secret (creation, rotation) is written there first and the item keeps its version."""
        if self.secrets is not None and sub.secret:
            version = self.secrets.put(webhook_secret_name(tenant_id, sub.webhook_id), sub.secret)
            sub = replace(sub, secret="", secrets_version=version)
        doc = asdict(sub)
        item = WebhookItem(
            pk=k.tenant_pk(tenant_id),
            sk=k.webhook_sk(sub.webhook_id),
            version=sub.version,
            doc=json.dumps(doc, ensure_ascii=False, sort_keys=True),
        )
        cond = SiyuItem.pk.does_not_exist() if expected_version is None else WebhookItem.version == expected_version
        return self.conditional(lambda: item.save(condition=cond))

    def get_webhook(self, tenant_id: str, webhook_id: str) -> Subscription | None:
        item = self.get(WebhookItem, k.tenant_pk(tenant_id), k.webhook_sk(webhook_id), consistent=True)
        return None if item is None else _sub(item)

    def list_webhooks(self, tenant_id: str) -> list[Subscription]:
        items, _ = self.query(WebhookItem, k.tenant_pk(tenant_id), SiyuItem.sk.startswith(k.WEBHOOK_PREFIX))
        return [_sub(i) for i in items]

    def webhook_secret(self, tenant_id: str, sub: Subscription) -> str:
        """The subscription's signing secret: in the item, or read from the secret store at its version."""
        if sub.secrets_version is None:
            return sub.secret
        if self.secrets is None:
            raise UpstreamError(f"webhook {sub.webhook_id}'s secret is in SSM, and no secret store is set")
        secret = self.secrets.get(webhook_secret_name(tenant_id, sub.webhook_id), sub.secrets_version)
        if secret is None:
            raise UpstreamError(f"webhook {sub.webhook_id}'s secret (version {sub.secrets_version}) is missing")
        return secret

    def delete_webhook(self, tenant_id: str, webhook_id: str) -> bool:
        item = WebhookItem(pk=k.tenant_pk(tenant_id), sk=k.webhook_sk(webhook_id))
        return self.conditional(lambda: item.delete(condition=SiyuItem.pk.exists()))

    # --- the deliveries outbox ------------------------------------------------------------------------------------

    def create_delivery(self, tenant_id: str, delivery: Delivery) -> bool:
        """Put a new delivery; False if its id is already there (the same signal heard again)."""
        item = _delivery_item(tenant_id, delivery)
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        item = self.get(WebhookDeliveryItem, k.delivery_pk(tenant_id, delivery_id), k.DELIVERY_SK, consistent=True)
        return None if item is None else _delivery(item)

    def save_delivery(self, tenant_id: str, delivery: Delivery, *, expected_version: int) -> bool:
        """Replace the delivery if it is still at ``expected_version``; False if another sender or a replay won."""
        item = _delivery_item(tenant_id, delivery)
        return self.conditional(lambda: item.save(condition=WebhookDeliveryItem.version == expected_version))

    def due_deliveries(self, tenant_id: str, *, until_key: str, limit: int) -> list[Delivery]:
        """Pending deliveries due at ``until_key`` (a UTC key) or before, earliest first."""
        with translate():
            items = WebhookDeliveryItem.gsi1.query(
                k.deliveries_due_pk(tenant_id), SiyuItem.gsi1sk <= k.delivery_due_upto(until_key), limit=limit
            )
            return [_delivery(i) for i in items if isinstance(i, WebhookDeliveryItem)]

    def subject_head(self, tenant_id: str, webhook_id: str, subject: str) -> str | None:
        """The id of the subject's earliest pending delivery to this subscription (None: none pending)."""
        with translate():
            queue = SiyuItem.gsi2sk.startswith(k.delivery_queue_prefix(webhook_id))
            page: dict[str, Any] = next(
                SiyuItem.gsi2.query(k.delivery_subject_pk(tenant_id, subject), queue, page_size=1).page_iter
            )
        items = page.get("Items", [])
        return k.delivery_of_pk(items[0]["pk"]["S"]) if items else None

    def deliveries(self, tenant_id: str, webhook_id: str, *, status: str, limit: int) -> list[Delivery]:
        """One subscription's delivered or dead deliveries, newest first."""
        with translate():
            items = WebhookDeliveryItem.gsi1.query(
                k.deliveries_status_pk(tenant_id, webhook_id, status), scan_index_forward=False, limit=limit
            )
            return [_delivery(i) for i in items if isinstance(i, WebhookDeliveryItem)]

    def erase_deliveries(self, tenant_id: str, subject: str) -> int:
        """Delete every delivery about ``subject`` (a customer's erasure), to every subscription and in every state;
        how many. Unconditional: a sender holding one finds it gone (its conditional save fails), so it never comes
        back. The index is eventually consistent: only a delivery written within the last moment could be missed."""
        keys: list[tuple[str, str]] = []
        start: dict[str, Any] | None = None
        with translate():
            while True:
                page: dict[str, Any] = next(
                    SiyuItem.gsi2.query(k.delivery_subject_pk(tenant_id, subject), last_evaluated_key=start).page_iter
                )
                keys += [(i["pk"]["S"], i["sk"]["S"]) for i in page.get("Items", []) if i["sk"]["S"] == k.DELIVERY_SK]
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        self.batch_delete(keys)
        return len(keys)
