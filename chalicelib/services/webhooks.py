"""Outbound webhooks' subscriptions and dead letters (issue 14 §6; docs/webhooks.md): what the API and the console
call. The outbox and its sender are services/webhook_outbox.py.

A subscription's secret is made by Siyu and shown once (at creation and at each rotation, like the tenant's events
secret); a replay of a dead letter is a conditional save from ``dead`` back to ``pending``, so replaying it twice
(two clicks, two operators) sends it once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain import webhooks as w
from chalicelib.domain.instants import iso_of
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import Clock, IdGenerator
from chalicelib.ports.webhooks import WebhookRepository
from chalicelib.services.webhook_outbox import WebhookOutbox

MAX_LISTED = 50  # deliveries listed per status per subscription
MAX_REPLAY = 100  # dead letters replayed per request
FAR_FUTURE = "9999-12-31T23:59:59Z"  # the due index's upper bound: everything pending


class HookRepo(WebhookRepository, Protocol):
    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None: ...


class WebhookService:
    def __init__(self, repo: HookRepo, clock: Clock, ids: IdGenerator, outbox: WebhookOutbox, *, offline: bool) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids
        self.outbox = outbox
        self.offline = offline  # local and test stages: plain http to loopback receivers is allowed

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} not found")
        return tenant

    def get(self, tenant_id: str, webhook_id: str) -> w.Subscription:
        sub = self.repo.get_webhook(tenant_id, webhook_id)
        if sub is None:
            raise NotFoundError(f"webhook {webhook_id} not found")
        return sub

    def all(self, tenant_id: str) -> list[w.Subscription]:
        return self.repo.list_webhooks(tenant_id)

    def create(self, tenant_id: str, body: dict[str, Any]) -> tuple[w.Subscription, str]:
        """A new subscription and its secret (returned this once)."""
        tenant = self._tenant(tenant_id)
        url = w.check_url(str(body["url"]), offline=self.offline)
        events = w.check_events(list(body["events"]))
        pii = w.check_pii(list(body.get("pii", [])))
        if len(self.repo.list_webhooks(tenant_id)) >= w.MAX_WEBHOOKS:
            raise ConflictError(f"a tenant has at most {w.MAX_WEBHOOKS} webhooks", code="too_many_webhooks")
        now = iso_of(self.clock.now(), tenant.zone)
        secret = w.SECRET_PREFIX + self.ids.secret(32)
        sub = w.Subscription(
            webhook_id=self.ids.new_id("wh_"),
            url=url,
            events=events,
            secret=secret,
            created_at=now,
            updated_at=now,
            pii=pii,
            status=str(body.get("status", w.ACTIVE)),
            description=str(body.get("description", "")),
        )
        if not self.repo.put_webhook(tenant_id, sub, expected_version=None):
            raise ConflictError("a webhook with this id exists")
        self.outbox.forget(tenant_id)
        return sub, secret

    def update(self, tenant_id: str, webhook_id: str, body: dict[str, Any]) -> tuple[w.Subscription, str | None]:
        """Change what is given (url, events, pii, status, description); ``rotate_secret`` makes a new secret,
        returned this once. Conditional on the version read (and on ``version`` if the caller sent it)."""
        tenant = self._tenant(tenant_id)
        sub = self.get(tenant_id, webhook_id)
        if "version" in body and int(body["version"]) != sub.version:
            raise ConflictError(f"webhook {webhook_id} is at version {sub.version}", code="version_conflict")
        changes: dict[str, Any] = {}
        if "url" in body:
            changes["url"] = w.check_url(str(body["url"]), offline=self.offline)
        if "events" in body:
            changes["events"] = w.check_events(list(body["events"]))
        if "pii" in body:
            changes["pii"] = w.check_pii(list(body["pii"]))
        for name in ("status", "description"):
            if name in body:
                changes[name] = str(body[name])
        secret = None
        if body.get("rotate_secret"):
            secret = changes["secret"] = w.SECRET_PREFIX + self.ids.secret(32)
        now = iso_of(self.clock.now(), tenant.zone)
        new = replace(sub, **changes, version=sub.version + 1, updated_at=now)
        if not self.repo.put_webhook(tenant_id, new, expected_version=sub.version):
            raise ConflictError(f"webhook {webhook_id} changed; reload it", code="version_conflict")
        self.outbox.forget(tenant_id)
        return new, secret

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        """Delete it; its pending deliveries are dropped by the sender (nobody to send them to)."""
        if not self.repo.delete_webhook(tenant_id, webhook_id):
            raise NotFoundError(f"webhook {webhook_id} not found")
        self.outbox.forget(tenant_id)

    def board(self, tenant_id: str, *, recent: int = 10) -> list[dict[str, Any]]:
        """The console's page: each subscription with its pending (retrying) deliveries, its recent deliveries and
        its dead letters."""
        pending = self.pending(tenant_id)
        return [
            {
                "sub": sub,
                "pending": [d for d in pending if d.webhook_id == sub.webhook_id],
                "recent": self.repo.deliveries(tenant_id, sub.webhook_id, status=w.DELIVERED, limit=recent),
                "dead": self.repo.deliveries(tenant_id, sub.webhook_id, status=w.DEAD, limit=MAX_LISTED),
            }
            for sub in self.repo.list_webhooks(tenant_id)
        ]

    def pending(self, tenant_id: str, webhook_id: str | None = None) -> list[w.Delivery]:
        """Deliveries still to send (new, retrying or held behind an earlier one), next first (at most 50)."""
        due = self.repo.due_deliveries(tenant_id, until_key=FAR_FUTURE, limit=MAX_LISTED)
        return [d for d in due if webhook_id is None or d.webhook_id == webhook_id]

    # --- deliveries and dead letters ----------------------------------------------------------------------------

    def deliveries(self, tenant_id: str, webhook_id: str, *, status: str, limit: int = MAX_LISTED) -> list[w.Delivery]:
        """A subscription's ``delivered`` or ``dead`` deliveries, newest first."""
        self.get(tenant_id, webhook_id)
        if status not in (w.DELIVERED, w.DEAD):
            raise InvalidError("status must be delivered or dead")
        return self.repo.deliveries(tenant_id, webhook_id, status=status, limit=limit)

    def replay(self, tenant_id: str, webhook_id: str, *, ids: list[str] | None) -> dict[str, Any]:
        """Send dead letters again (``ids``, or all when None): each at most once per replay of it. Answers which
        were replayed and which were not dead letters of this webhook (unknown, already replayed, delivered)."""
        tenant = self._tenant(tenant_id)
        self.get(tenant_id, webhook_id)
        if ids is None:
            dead = self.repo.deliveries(tenant_id, webhook_id, status=w.DEAD, limit=MAX_REPLAY)
        else:
            if len(ids) > MAX_REPLAY:
                raise InvalidError(f"at most {MAX_REPLAY} ids per replay")
            found = [self.repo.get_delivery(tenant_id, i) for i in dict.fromkeys(ids)]
            dead = [d for d in found if d is not None and d.webhook_id == webhook_id and d.status == w.DEAD]
        now = self.clock.now()
        replayed = [
            d.delivery_id
            for d in dead
            if self.repo.save_delivery(tenant_id, w.replayed(d, now=now, zone=tenant.zone), expected_version=d.version)
        ]
        if replayed:
            self.outbox.kick(tenant, now)
        skipped: list[str] = [] if ids is None else [i for i in dict.fromkeys(ids) if i not in replayed]
        return {"replayed": replayed, "skipped": skipped}
