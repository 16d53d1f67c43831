"""Business events from a tenant's own systems (orders, replies, check-ins, shares, landing-page exposure, custom):
authenticated by signature, validated whole, applied one by one — each exactly once.

Effectively-once without a lock: an event's fact is keyed by its event_id digest and written with a condition, in
the same transaction as the customer change it causes (or the counter it bumps). A repeat finds the fact in its
first read or loses the condition, and answers ``duplicate``. The SOP engine hears about an event (signals, the
follow-up task) only from the delivery that won the write; a crash between the write and those calls loses them,
which fire-time re-validation covers for exits (it reads the customer's stage and marketing suppression).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib import schemas
from chalicelib.domain.business_events import (
    CUSTOM,
    EXPOSURE,
    MESSAGE,
    ORDER,
    REPLAY_WINDOW_SECONDS,
    BusinessEvent,
    apply_order,
    apply_reply,
    bad_signature,
    check_signed_headers,
    event_digest,
    event_errors,
    events_disabled,
    parse_event,
    reply_rules,
    signature_matches,
)
from chalicelib.domain.customers import Customer, customer_id_for
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.instants import iso_of, local_date
from chalicelib.domain.replies import POSITIVE, classify_reply
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, PayloadTooLargeError, SiyuError
from chalicelib.observability import count, count_by, logger
from chalicelib.ports import Clock, Signal, SignalPublisher, TaskSink

MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 100
FOLLOW_UP_SLA = timedelta(minutes=15)  # a positive reply's 1:1 follow-up is due this long after it arrives
MAX_ATTEMPTS = 3

_UNKNOWN_TENANT_SECRET = secrets.token_hex(32)  # per process, never stored or sent: no signature can match it

APPLIED, DUPLICATE, UNKNOWN_CUSTOMER, UNKNOWN_CHANNEL = "applied", "duplicate", "unknown_customer", "unknown_channel"


class EventRepo(Protocol):
    """What business events need from storage (DynamoStore via FactRepository, FakeStore in tests)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...
    def load_event_target(self, tenant_id: str, customer_id: str, digest: str) -> tuple[Customer | None, bool]: ...
    def record_event(
        self, tenant_id: str, fact: Fact, *, customer: Customer | None = None, expected_version: int = 0
    ) -> None: ...
    def load_exposure_target(self, tenant_id: str, channel_id: str, digest: str) -> tuple[bool, bool]: ...
    def record_exposure(self, tenant_id: str, fact: Fact, *, channel_id: str, date: str, uv: int) -> None: ...


class TenantLookup(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...
    def refresh(self, tenant_id: str) -> Tenant | None: ...


class NoTasks:
    """TaskSink until the SOP engine is wired in: no follow-up task is created."""

    def follow_up(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        owner_userid: str,
        reason: str,
        text: str,
        due: datetime,
        dedupe_key: str,
        kind: str = "follow_up",
    ) -> str:
        return ""


@dataclass(frozen=True)
class EventResult:
    """What happened to one event: ``applied``, ``duplicate``, ``unknown_customer`` or ``unknown_channel``."""

    event_id: str
    status: str
    customer_id: str | None = None
    reply: str | None = None  # a message's class (positive | negative | None), so senders can check their rules

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.customer_id:
            body["customer_id"] = self.customer_id
        if self.status == APPLIED and self.reply is not None:
            body["reply"] = self.reply
        return body


class EventService:
    def __init__(
        self,
        repo: EventRepo,
        clock: Clock,
        signals: SignalPublisher,
        tasks: TaskSink,
        *,
        tenants: TenantLookup | None = None,
        replay_window: int = REPLAY_WINDOW_SECONDS,
        follow_up_sla: timedelta = FOLLOW_UP_SLA,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.signals = signals
        self.tasks = tasks
        self._get_tenant: Callable[[str], Tenant | None] = tenants.get if tenants is not None else repo.get_tenant
        # Without a cache every read is fresh already: nothing to re-read on a bad signature.
        self._refresh_tenant: Callable[[str], Tenant | None] = (
            tenants.refresh if tenants is not None else lambda tenant_id: None
        )
        self.replay_window = replay_window
        self.follow_up_sla = follow_up_sla
        self.max_bytes = max_bytes

    # --- entry point ------------------------------------------------------------------------------------------

    def receive(
        self, tenant_id: str, *, timestamp: str | None, signature: str | None, body: bytes
    ) -> dict[str, list[dict[str, Any]]]:
        """Authenticate, validate the whole body (400 lists every error, nothing applied), then apply each event.

        An unknown tenant is checked against a secret nobody holds, so it fails exactly where a real tenant's
        bad signature does: the answer never tells whether a tenant exists."""
        try:
            if len(body) > self.max_bytes:
                raise PayloadTooLargeError(f"request body exceeds {self.max_bytes} bytes")
            tenant = self._get_tenant(tenant_id)
            now = self.clock.now()
            if tenant is None:  # checked as a real tenant's bad signature is, against a secret nobody holds
                ts, sig = check_signed_headers(timestamp, signature, now=now.timestamp(), window=self.replay_window)
                signature_matches((_UNKNOWN_TENANT_SECRET,), ts, body, sig)
                raise bad_signature()
            at = now.timestamp()
            tenant = self._authenticate(tenant, timestamp=timestamp, signature=signature, body=body, now=at)
            events = self.validate(_parse(body), now)
        except SiyuError as exc:  # the whole request: one rejection, by its error code (bad_signature, invalid, …)
            count_by("EventsRejected", "reason", exc.code)
            raise
        results = [self.apply(tenant, ev) for ev in events]
        for r in results:
            if r.status == APPLIED:
                count("EventsIngested")
            else:  # duplicate, unknown_customer, unknown_channel: accepted, but nothing applied
                count_by("EventsRejected", "reason", r.status)
        return {"results": [r.public() for r in results]}

    def _authenticate(
        self, tenant: Tenant, *, timestamp: str | None, signature: str | None, body: bytes, now: float
    ) -> Tenant:
        """The tenant whose events secret (current, or previous within its grace period) signed ``body``.

        ``tenant`` may come from a warm container's cache, older than a rotation: a signature that matches none of
        its secrets gets one re-read of the tenant that bypasses the cache before the 401, so a new secret works at
        once everywhere. The cache bounds those re-reads (TenantCache.refresh), so bad signatures cannot become a
        storm of store reads."""
        ts, sig = check_signed_headers(timestamp, signature, now=now, window=self.replay_window)
        if signature_matches(tenant.events_secrets(now), ts, body, sig):
            return tenant
        tenant = self._refresh_tenant(tenant.tenant_id) or tenant
        secrets = tenant.events_secrets(now)
        if not secrets:
            raise events_disabled()
        if not signature_matches(secrets, ts, body, sig):
            raise bad_signature()
        return tenant

    def validate(self, body: Any, now: datetime) -> list[BusinessEvent]:
        """One event or ``{"events": [...]}`` (≤ 100). Every error of every event is collected, with its JSON
        pointer into the body (``/events/<index>/…`` in a batch), before anything is applied."""
        if isinstance(body, dict) and "events" in body:
            errors = _schema_errors("event_batch", body, "")
            raw = body["events"] if isinstance(body["events"], list) and len(body["events"]) <= MAX_BATCH else []
            pointer = "/events/{}"
        else:
            errors, raw, pointer = [], [body], ""
        events: list[BusinessEvent] = []
        for i, item in enumerate(raw):
            item_errors = _schema_errors("event", item, pointer.format(i))
            if isinstance(item, dict):
                item_errors += event_errors(item, pointer.format(i), now, self.replay_window)
            errors += item_errors
            if not item_errors:
                events.append(parse_event(item, i))
        if errors:
            errors.sort(key=lambda e: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in e["path"].split("/")])
            raise InvalidError(f"request body is invalid ({len(errors)} error(s))", details=errors)
        return events

    def apply(self, tenant: Tenant, ev: BusinessEvent) -> EventResult:
        """Apply one event exactly once; a concurrent change of its customer makes it re-read and decide again."""
        digest = event_digest(tenant, ev.event_id)
        if ev.type == EXPOSURE:
            return self._exposure(tenant, ev, digest)
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._apply_once(tenant, ev, digest)
            except ConflictError:
                continue  # the event was applied concurrently or the customer changed: the next read decides
        raise ConflictError("the customer kept changing concurrently; retry the request (applied events are safe)")

    # --- customer events --------------------------------------------------------------------------------------

    def _apply_once(self, tenant: Tenant, ev: BusinessEvent, digest: str) -> EventResult:
        customer, seen = self._resolve(tenant, ev, digest)
        if seen:
            return EventResult(ev.event_id, DUPLICATE, customer.customer_id if customer else None)
        if customer is None:
            logger.info("business event for an unknown customer", extra={"tenant": tenant.tenant_id, "type": ev.type})
            return EventResult(ev.event_id, UNKNOWN_CUSTOMER)
        now = iso_of(self.clock.now(), tenant.zone)
        at = iso_of(ev.occurred_at, tenant.zone)
        updated, reply = customer, None
        if ev.type == ORDER:
            updated = apply_order(customer, kind=ev.fields["kind"], now=now)
        elif ev.type == MESSAGE:
            reply = classify_reply(ev.fields["text"], *reply_rules(tenant))
            updated = apply_reply(customer, reply=reply, at=at, at_time=ev.occurred_at, now=now)
        fact = Fact(
            tenant_id=tenant.tenant_id,
            customer_id=customer.customer_id,
            create_time=int(ev.occurred_at.timestamp()),
            digest=digest,
            type=ev.type,
            at=at,
            userid=customer.owner_userid,
            detail=_detail(ev, reply),
        )
        changed = updated is not customer
        self.repo.record_event(
            tenant.tenant_id, fact, customer=updated if changed else None, expected_version=customer.version
        )
        self._effects(tenant, ev, customer, updated, reply, digest)
        logger.info(
            "business event applied",
            extra={"tenant": tenant.tenant_id, "type": ev.type, "customer_id": customer.customer_id, "reply": reply},
        )
        return EventResult(ev.event_id, APPLIED, customer.customer_id, reply)

    def _resolve(self, tenant: Tenant, ev: BusinessEvent, digest: str) -> tuple[Customer | None, bool]:
        """The event's customer — by id, or by external_userid exactly as intake derives it (the tenant-keyed
        digest, then the ext alias for a contact merged into another customer) — and whether the event is on it."""
        tid = tenant.tenant_id
        if ev.customer_id:
            return self.repo.load_event_target(tid, ev.customer_id, digest)
        ext_digest = tenant.hmac_hex("ext:" + (ev.external_userid or ""))
        cid = customer_id_for(ext_digest)
        customer, seen = self.repo.load_event_target(tid, cid, digest)
        if customer is None and not seen:
            alias = self.repo.find_alias(tid, "ext", ext_digest)
            if alias is not None and alias.customer_id and alias.customer_id != cid:
                return self.repo.load_event_target(tid, alias.customer_id, digest)
        return customer, seen

    def _effects(
        self, tenant: Tenant, ev: BusinessEvent, before: Customer, after: Customer, reply: str | None, digest: str
    ) -> None:
        """Tell the SOP engine, from the delivery that won only. Its failures are logged, not raised: the event is
        recorded, so a retry would be a duplicate and could not repeat them anyway."""
        tid, cid = tenant.tenant_id, before.customer_id
        chat_id = ev.fields.get("chat_id")
        if ev.type == ORDER:
            amount = round(float(ev.fields.get("amount") or 0) * 100)  # yuan → fen
            product = ev.fields.get("product") or None
            order = Signal("order", ev.occurred_at, kind=ev.fields["kind"], ref=digest, amount=amount, product=product)
            self._signal(tenant, cid, order)
        elif ev.type == MESSAGE:
            if reply == POSITIVE:
                self._safely(
                    "follow_up",
                    lambda: self.tasks.follow_up(
                        tid,
                        customer_id=cid,
                        owner_userid=after.owner_userid,
                        reason="positive_reply",
                        text="",  # never the customer's words: the reason (the reply's class) is what staff act on
                        due=self.clock.now() + self.follow_up_sla,
                        dedupe_key=digest,
                    ),
                )
            # Any reply resets silence timers; a group message's text reaches in-process subscribers (a check-in
            # keyword), never a log or an item.
            text = ev.fields["text"] if chat_id else None
            reply_signal = Signal("reply", ev.occurred_at, kind=reply, chat_id=chat_id, ref=digest, text=text)
            self._signal(tenant, cid, reply_signal)
        else:
            kind = ev.fields["name"] if ev.type == CUSTOM else None
            self._signal(tenant, cid, Signal(ev.type, ev.occurred_at, kind=kind, chat_id=chat_id, ref=digest))
        if after.stage != before.stage:
            self._signal(tenant, cid, Signal("stage", ev.occurred_at, stage=after.stage.value))

    def _signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        self._safely("signal", lambda: self.signals.publish(tenant, customer_id, signal))

    @staticmethod
    def _safely(what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except SiyuError as exc:
            count("BusinessEvent.effect_failed")
            logger.warning("business event effect failed", extra={"effect": what, "code": exc.code})

    # --- exposure ---------------------------------------------------------------------------------------------

    def _exposure(self, tenant: Tenant, ev: BusinessEvent, digest: str) -> EventResult:
        """Landing-page UV added to the channel's counter for the event's local day, exactly once."""
        channel_id, uv = ev.fields["channel_id"], ev.fields["uv"]
        channel_exists, seen = self.repo.load_exposure_target(tenant.tenant_id, channel_id, digest)
        if seen:
            return EventResult(ev.event_id, DUPLICATE)
        if not channel_exists:
            return EventResult(ev.event_id, UNKNOWN_CHANNEL)
        date = local_date(ev.occurred_at.timestamp(), tenant.zone)
        fact = Fact(
            tenant_id=tenant.tenant_id,
            customer_id="",
            create_time=int(ev.occurred_at.timestamp()),
            digest=digest,
            type=EXPOSURE,
            at=iso_of(ev.occurred_at, tenant.zone),
            channel_id=channel_id,
            detail={**_detail(ev, None), "date": date},
        )
        try:
            self.repo.record_exposure(tenant.tenant_id, fact, channel_id=channel_id, date=date, uv=uv)
        except ConflictError:
            return EventResult(ev.event_id, DUPLICATE)  # a concurrent delivery of the same event won
        return EventResult(ev.event_id, APPLIED)


def _parse(body: bytes) -> Any:
    """I-JSON only (schemas.loads): no NaN, no lone surrogates, no nesting deeper than any event needs."""
    return schemas.loads(body)


def _schema_errors(name: str, data: Any, prefix: str) -> list[dict[str, str]]:
    """Every schema error of ``data``, with paths made pointers into the whole body."""
    try:
        schemas.validate(name, data)
    except InvalidError as exc:
        return [{**d, "path": prefix + (d["path"] if d["path"] != "/" or not prefix else "")} for d in exc.details]
    return []


_DETAIL_FIELDS = {
    ORDER: ("kind", "amount", "product", "source"),  # source: "crm" for an order from the CRM import
    MESSAGE: ("chat_id",),  # the text itself is not kept: the class is what the timeline and metrics need
    "checkin": ("streak", "chat_id"),  # the group, so check-ins count per group (and a rebuild finds it)
    "share": ("referred",),
    EXPOSURE: ("channel_id", "uv"),
    CUSTOM: ("name", "properties"),
}


def _detail(ev: BusinessEvent, reply: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"event_id": ev.event_id}
    detail.update({n: ev.fields[n] for n in _DETAIL_FIELDS[ev.type] if n in ev.fields})
    if ev.type == MESSAGE:
        detail["reply"] = reply
    return detail
