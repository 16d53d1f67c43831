"""The outbound webhooks' outbox and its sender (issue 14 §6; docs/webhooks.md).

The signal subscriber (``on_signal``) only writes: one delivery per (subscription, signal), created with a
conditional put under an id derived from the signal, so a signal heard twice (a retried callback) makes one delivery.
It never calls a receiver, so a slow or dead receiver never slows the request that caused the event. It asks
EventBridge Scheduler for a one-shot run of the tenant's sender at the next minute (named after the tenant and the
minute, so a burst of events makes one schedule); the 5-minute backstop runs the sender too, as a safety net.

The sender (``run_due``) claims a due delivery (a conditional save moving it a lease ahead, so two senders never
post it together), POSTs it signed, and records the answer: a 2xx is delivered; anything else, or no answer within
TIMEOUT_SECONDS, is retried after BACKOFF, then dead-lettered. A subject's deliveries to one subscription go out in
the order Siyu heard them: one whose subject has an earlier pending delivery waits for it (held to its due time).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain import webhooks as w
from chalicelib.domain.business_events import sign
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.signals import GROUP_JOINED, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timing import schedule_at
from chalicelib.errors import SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, SchedulerPort
from chalicelib.ports.webhooks import WebhookPoster, WebhookRepository

LEASE = timedelta(minutes=2)  # a sender's claim on a delivery; a crashed sender's delivery is due again after it
PAUSE_HOLD = timedelta(minutes=15)  # a paused subscription's deliveries wait, checked again this often
MAX_DUE = 100  # deliveries tried per tenant per run (the rest next run)
MAX_AHEAD = 20  # a subject's earlier deliveries sent before a later one, per turn
MAX_KICKED = 1000  # schedule names remembered per container (one per tenant and minute)
CACHE_SECONDS = 30.0  # how long a container keeps a tenant's subscriptions (a new one hears events within this)
_order = itertools.count()  # the order this process heard signals in, after their instant (domain seq_of)


class OutboxRepo(WebhookRepository, Protocol):
    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...


@dataclass
class SendReport:
    tenant_id: str
    delivered: int = 0
    failed: int = 0  # tries that failed (retried later, or dead-lettered)
    dead: int = 0
    held: int = 0  # waited for an earlier delivery of their subject, or a paused subscription
    more: bool = False


class WebhookOutbox:
    def __init__(
        self,
        repo: OutboxRepo,
        poster: WebhookPoster,
        clock: Clock,
        scheduler: SchedulerPort | None = None,
        *,
        timeout: float = w.TIMEOUT_SECONDS,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.repo = repo
        self.poster = poster
        self.clock = clock
        self.scheduler = scheduler
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._subs: dict[str, tuple[datetime, list[w.Subscription]]] = {}
        self._kicked: set[str] = set()
        self._run_secrets: dict[str, str] = {}  # signing secrets read in this run of the sender

    # --- subscriptions, as the subscriber sees them -------------------------------------------------------------

    def subscriptions(self, tenant_id: str) -> list[w.Subscription]:
        now = self.clock.now()
        cached = self._subs.get(tenant_id)
        if cached is None or cached[0] <= now:
            cached = (now + timedelta(seconds=self.cache_seconds), self.repo.list_webhooks(tenant_id))
            self._subs[tenant_id] = cached
        return cached[1]

    def forget(self, tenant_id: str) -> None:
        """A subscription changed in this container: read them again on the next signal."""
        self._subs.pop(tenant_id, None)

    # --- the signal subscriber ----------------------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, subject_id: str, signal: Signal) -> int:
        """Put one delivery per active subscription wanting this event; returns how many were new."""
        event = w.EVENT_OF.get(signal.type)
        wanting = [
            sub
            for sub in self.subscriptions(tenant.tenant_id)
            if event is not None and sub.status == w.ACTIVE and event in sub.events
        ]
        if event is None or not wanting:
            return 0
        now = self.clock.now()
        subject = w.subject_of(signal, subject_id)
        identity = w.signal_identity(signal)
        seq = w.seq_of(now, next(_order))
        data = w.event_data(signal)
        if signal.type == GROUP_JOINED and signal.member:  # who joined, as a customer id (never the raw id)
            alias = self.repo.find_alias(tenant.tenant_id, "ext", tenant.hmac_hex("ext:" + signal.member))
            if alias is not None:
                data["customer_id"] = alias.customer_id
        made = 0
        for sub in wanting:
            delivery = w.Delivery(
                delivery_id=w.delivery_id(tenant.tenant_id, sub.webhook_id, event, subject, identity),
                webhook_id=sub.webhook_id,
                event=event,
                subject=subject,
                seq=seq,
                occurred_at=iso_of(signal.at, tenant.zone),
                created_at=iso_of(now, tenant.zone),
                due_at=iso_of(now, tenant.zone),
                data=data,
            )
            if self.repo.create_delivery(tenant.tenant_id, delivery):
                made += 1
        if made:
            count("Webhook.enqueued", made)
            self.kick(tenant, now)
        return made

    def kick(self, tenant: Tenant, at: datetime) -> None:
        """A one-shot schedule of the tenant's sender at the minute after ``at`` (one per tenant and minute; a
        failure is only logged: the backstop sends within five minutes all the same)."""
        if self.scheduler is None:
            return
        minute = (at + timedelta(minutes=1)).replace(second=0, microsecond=0)
        name = f"siyu-wh-{tenant.tenant_id}-{utc_key(minute)[:16].replace('-', '').replace(':', '').replace('T', '')}"
        if name in self._kicked:
            return
        if len(self._kicked) > MAX_KICKED:  # a long-lived container: forget the minutes gone by
            self._kicked.clear()
        expression, zone = schedule_at(minute, tenant.zone)
        try:
            self.scheduler.schedule(
                name=name, expression=expression, timezone=zone, payload={"tenant_id": tenant.tenant_id, "webhooks": 1}
            )
            self._kicked.add(name)
        except SiyuError as exc:
            logger.warning("webhook sender not scheduled", extra={"tenant": tenant.tenant_id, "code": exc.code})

    # --- the sender ---------------------------------------------------------------------------------------------

    def run_due(self, tenant_id: str, *, stop: Callable[[], bool] | None = None, limit: int = MAX_DUE) -> SendReport:
        """Try every delivery due now (earliest first), each subject's in order; then schedule the next run."""
        report = SendReport(tenant_id)
        now = self.clock.now()
        due = self.repo.due_deliveries(tenant_id, until_key=utc_key(now), limit=limit)
        tenant = self.repo.get_tenant(tenant_id) if due else None  # a tenant with nothing due costs one Query
        if tenant is None:
            return report
        subs = {sub.webhook_id: sub for sub in self.repo.list_webhooks(tenant_id)}
        self._run_secrets = {}
        waiting: dict[tuple[str, str], str] = {}  # (webhook, subject) → when its failed head is due again
        for delivery in due:
            if stop is not None and stop():
                report.more = True
                break
            current = self.repo.get_delivery(tenant_id, delivery.delivery_id)
            if current is None or current.status != w.PENDING or current.due_at != delivery.due_at:
                continue  # sent by a head's turn earlier in this run, or by another sender
            self._one(tenant, current, subs.get(current.webhook_id), now, waiting, report)
        self._next_run(tenant, now)
        return report

    def _one(
        self,
        tenant: Tenant,
        d: w.Delivery,
        sub: w.Subscription | None,
        now: datetime,
        waiting: dict[tuple[str, str], str],
        report: SendReport,
    ) -> None:
        tid = tenant.tenant_id
        if sub is None:  # the subscription was deleted: nobody to send it to
            dropped = replace(d, status=w.DROPPED, version=d.version + 1)
            self.repo.save_delivery(tid, dropped, expected_version=d.version)
            return
        if sub.status != w.ACTIVE:
            self._hold(tenant, d, iso_of(now + PAUSE_HOLD, tenant.zone), report)
            return
        key = (d.webhook_id, d.subject)
        if key in waiting:
            self._hold(tenant, d, waiting[key], report)
            return
        for _ in range(MAX_AHEAD):  # the subject's earlier deliveries go first, each in its turn
            head_id = self.repo.subject_head(tid, d.webhook_id, d.subject)
            if head_id is None or head_id == d.delivery_id:
                break
            head = self.repo.get_delivery(tid, head_id)
            if head is None or head.status != w.PENDING:
                break  # the index has not caught up with a head just delivered
            if datetime.fromisoformat(head.due_at) > now:  # the earlier one is retrying: wait for it
                waiting[key] = head.due_at
                self._hold(tenant, d, head.due_at, report)
                return
            if not self._send(tenant, head, sub, now, report):
                after = self.repo.get_delivery(tid, head_id)
                if after is not None and after.status == w.PENDING:
                    waiting[key] = after.due_at
                    self._hold(tenant, d, after.due_at, report)
                    return
        else:  # more ahead of it than one turn takes: the next run goes on
            self._hold(tenant, d, iso_of(now + timedelta(minutes=1), tenant.zone), report)
            return
        if not self._send(tenant, d, sub, now, report):
            after = self.repo.get_delivery(tid, d.delivery_id)
            if after is not None and after.status == w.PENDING:
                waiting[key] = after.due_at

    def _hold(self, tenant: Tenant, d: w.Delivery, until: str, report: SendReport) -> None:
        held = replace(d, due_at=until, version=d.version + 1)
        if self.repo.save_delivery(tenant.tenant_id, held, expected_version=d.version):
            report.held += 1

    def _send(self, tenant: Tenant, d: w.Delivery, sub: w.Subscription, now: datetime, report: SendReport) -> bool:
        """Claim, post and record one delivery; True if the receiver took it."""
        tid, zone = tenant.tenant_id, tenant.zone
        secret = self._run_secrets.get(sub.webhook_id)  # read once per run (SSM deployed), before the claim
        if secret is None:
            secret = self._run_secrets[sub.webhook_id] = self.repo.webhook_secret(tid, sub)
        claimed = replace(d, due_at=iso_of(now + LEASE, zone), version=d.version + 1)
        if not self.repo.save_delivery(tid, claimed, expected_version=d.version):
            return False  # another sender has it
        body = w.encode(w.body_of(d, tenant_id=tid, personal=self._personal(tid, d, sub)))
        stamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Siyu-Webhooks/1",
            "X-Siyu-Timestamp": stamp,
            "X-Siyu-Signature": sign(secret, stamp, body),
            "X-Siyu-Delivery": d.delivery_id,
            "X-Siyu-Event": d.event,
        }
        result = self.poster.post(sub.url, body, headers, timeout=self.timeout)
        if result.ok:
            done = w.after_success(claimed, now=now, zone=zone, status=result.status or 200)
            self.repo.save_delivery(tid, done, expected_version=claimed.version)
            report.delivered += 1
            count("Webhook.delivered")
            return True
        failed = w.after_failure(claimed, now=now, zone=zone, status=result.status, error=result.error or "failed")
        self.repo.save_delivery(tid, failed, expected_version=claimed.version)
        report.failed += 1
        count("Webhook.failed")
        if failed.status == w.DEAD:
            report.dead += 1
            count("Webhook.dead")
        logger.info(
            "webhook delivery failed",
            extra={"tenant": tid, "webhook": d.webhook_id, "delivery": d.delivery_id, "error": failed.last_error},
        )
        return False

    def _personal(self, tenant_id: str, d: w.Delivery, sub: w.Subscription) -> dict[str, str]:
        """The opted-in personal fields, read now (an erased customer has none left to send)."""
        fields = [f for f in sub.pii if f in w.PII_FIELDS]
        customer_id = d.subject_id if d.subject_kind == "customer" else d.data.get("customer_id")
        if not customer_id or not fields:
            return {}
        customer = self.repo.get_customer(tenant_id, str(customer_id))
        if customer is None:
            return {}
        values = {
            "name": customer.name,
            "phone_masked": customer.phone_masked,
            "external_userid": customer.external_userid,
        }
        return {f: values[f] for f in fields if values[f]}

    def _next_run(self, tenant: Tenant, now: datetime) -> None:
        """Schedule the sender for the next delivery due within the backstop's period (a 1-minute retry)."""
        soon = self.repo.due_deliveries(tenant.tenant_id, until_key=utc_key(now + timedelta(minutes=5)), limit=1)
        if soon:
            self.kick(tenant, max(now, datetime.fromisoformat(soon[0].due_at) - timedelta(minutes=1)))
