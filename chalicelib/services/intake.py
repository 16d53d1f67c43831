"""Channel intake: one customer-contact event becomes a tagged, attributed, welcomed customer — exactly once.

Effectively-once without a lock: the event's digest goes into the same conditional write that changes the customer
(the profile put for a first add; a fact put plus a versioned profile put otherwise), and the day's counters join
that transaction. A repeat finds its digest (one batched read, no WeCom call) or loses the condition. WeCom side
effects run only in the delivery that won: the welcome message is therefore sent at most once, within the
WelcomeCode's 20 s, and 41051 ("already chatting") is accepted as delivered — never a retry loop.

Within WeCom's 5 s: each delivery has a budget (services/budget.py, 3 s) that every WeCom call of it fits into. What
does not fit, or fails, is surfaced or repaired, never retried by the redelivery (which stays a duplicate): a missed
welcome becomes the owner's task, a profile sync, tag marking or rotation a repair item (intake_effects.py).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chalicelib import deadlines
from chalicelib.domain.channels import ORGANIC, Channel
from chalicelib.domain.contact_events import DEL_EXTERNAL, DEL_FOLLOW, EDIT, TRANSFER_FAIL, ContactEvent
from chalicelib.domain.customers import (
    Customer,
    apply_add,
    apply_customer_deleted_staff,
    apply_edit,
    apply_noted,
    apply_staff_deleted_customer,
    customer_id_for,
    new_customer,
)
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.domain.instants import iso_local, iso_of, local_date
from chalicelib.domain.repairs import PROFILE_SYNC
from chalicelib.domain.signals import LOST, MERGED, PHONE_NOTED, TAG, TRANSFER_FAILED, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError
from chalicelib.observability import logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    CustomerRepository,
    Enroller,
    IntakeKeys,
    IntakeRepository,
    IntakeSnapshot,
    SignalPublisher,
    TagRepository,
    TaskSink,
    WeComPort,
)
from chalicelib.services.budget import DEFAULT_CALLBACK_BUDGET_SECONDS, Budget, within
from chalicelib.services.identities import Identities, phone_of
from chalicelib.services.intake_effects import AddEffects, RepairSink, WelcomeLibrary
from chalicelib.services.signals import NoSignals

CHANNEL_ID_RE = re.compile(r"^(ch|rf)_[a-z0-9]{4,27}$")
BY_TRANSFER = "DELETE_BY_TRANSFER"  # del_external_contact's Source when WeCom moved the customer to another staff
MAX_ATTEMPTS = 3
WELCOME_RESERVE_SECONDS = 1.0  # of the budget, kept from the profile fetch for the welcome message


@dataclass(frozen=True)
class IntakeResult:
    """What one delivery did. ``outcome``: created, merged, readd, confirmed, lost, ended, transferred, updated,
    noted, duplicate or ignored."""

    outcome: str
    customer_id: str | None = None
    welcome: str | None = None
    reason: str | None = None


class IntakeRepo(IntakeRepository, ChannelRepository, TagRepository, CustomerRepository, Protocol):
    """What intake needs from storage."""


class IntakeService:
    def __init__(
        self,
        repo: IntakeRepo,
        wecom: WeComPort,
        clock: Clock,
        enroller: Enroller | None = None,
        signals: SignalPublisher | None = None,
        *,
        tasks: TaskSink | None = None,
        repairs: RepairSink | None = None,
        budget_seconds: float = DEFAULT_CALLBACK_BUDGET_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.base_wecom = wecom
        self.wecom = wecom  # a delivery's copy of the service holds the budgeted client here (``handle``)
        self.clock = clock
        self.enroller = enroller
        self.identities = Identities(repo, wecom)
        self.signals = signals or NoSignals()  # "added" and "tag": the plans they trigger enroll
        self.tasks = tasks  # a welcome that could not be sent becomes the owner's task
        self.repairs = repairs  # what WeCom did not take in time is made later (services/repairs.py)
        self.budget_seconds = budget_seconds
        self.library: WelcomeLibrary | None = None  # the content library, when wired (services/library_send.py)
        self.monotonic = monotonic
        self.budget = Budget(budget_seconds, monotonic)

    # --- entry point ------------------------------------------------------------------------------------------

    def handle(self, tenant: Tenant, ev: ContactEvent, budget: Budget | None = None) -> IntakeResult:
        """Apply one event within ``budget`` (the callback's, started when it arrived; a fresh one if None): every
        WeCom call of this delivery goes through a client fitted into it. The service is shared by threads, so the
        delivery runs on a shallow copy holding its own budget and client."""
        delivery = copy.copy(self)
        delivery.budget = budget if budget is not None else Budget(self.budget_seconds, self.monotonic)
        delivery.wecom = within(self.base_wecom, delivery.budget)
        delivery.identities = Identities(self.repo, delivery.wecom)
        # What the delivery sets off further down (an SOP step due now, fired inline by the kernel) spends the same
        # budget: its WeCom calls fit what is left, and one that cannot leaves its task retrying (services/sop).
        with deadlines.spending(delivery.budget):
            return delivery._handle(tenant, ev)

    def _handle(self, tenant: Tenant, ev: ContactEvent) -> IntakeResult:
        digest = ev.digest()
        if not ev.handled or not ev.external_userid or not ev.userid:
            return self._ignore(tenant, ev, digest, "unhandled_event" if not ev.handled else "missing_ids")
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._handle_once(tenant, ev, digest)
            except ConflictError:
                continue  # a concurrent delivery changed the customer: re-read; its digest check decides
        raise ConflictError("the customer kept changing concurrently; WeCom will retry")

    def _handle_once(self, tenant: Tenant, ev: ContactEvent, digest: str) -> IntakeResult:
        """Read in two steps so a duplicate costs one small read: the customer and the event's fact first; only a
        new event reads what applying it needs (the identity alias, and for adds the channel, counters, staff)."""
        tid = tenant.tenant_id
        date = local_date(ev.create_time, tenant.zone)
        ext_digest = tenant.hmac_hex("ext:" + ev.external_userid)
        cid = customer_id_for(ext_digest)
        customer, fact_exists = self.repo.load_customer(tid, cid, ev.create_time, digest)
        if customer is not None and (customer.was_applied(digest) or fact_exists):
            return IntakeResult("duplicate", customer.customer_id)
        snap: IntakeSnapshot | None = None
        alias = None
        if ev.is_add:
            channel_id = ev.state if CHANNEL_ID_RE.match(ev.state) else None
            snap = self.repo.load_intake(
                tid, IntakeKeys(ext_digest, channel_id, ev.userid, date, include_alias=customer is None)
            )
            alias = snap.alias
        elif customer is None:
            alias = self.repo.find_alias(tid, "ext", ext_digest)
        if customer is None and alias is not None:
            if alias.erased_at is not None and ev.create_time <= alias.erased_at:
                return self._ignore(tenant, ev, digest, "erased_customer")  # a late retry of an erased customer
            if alias.customer_id and alias.customer_id != cid:
                cid = alias.customer_id  # this external contact was merged into another customer
                customer, fact_exists = self.repo.load_customer(tid, cid, ev.create_time, digest)
                if customer is not None and (customer.was_applied(digest) or fact_exists):
                    return IntakeResult("duplicate", customer.customer_id)
        if snap is not None:
            return self._add(tenant, ev, digest, ext_digest, cid, customer, snap, date)
        if customer is None:
            return self._ignore(tenant, ev, digest, "unknown_customer")
        return self._change(tenant, ev, digest, customer)

    # --- adds -------------------------------------------------------------------------------------------------

    def _add(
        self,
        tenant: Tenant,
        ev: ContactEvent,
        digest: str,
        ext_digest: str,
        cid: str,
        customer: Customer | None,
        snap: IntakeSnapshot,
        date: str,
    ) -> IntakeResult:
        tid = tenant.tenant_id
        channel = snap.channel
        channel_id = channel.channel_id if channel else None
        tags = frozenset(t.tag_id for t in channel.tags) if channel else frozenset()
        at = iso_local(ev.create_time, tenant.zone)
        now = iso_of(self.clock.now(), tenant.zone)
        counter_key = f"c#{channel_id or ORGANIC}"
        # The profile fetch may spend all of the budget but what the welcome needs (its code expires 20 s after the
        # event).
        reserve = WELCOME_RESERVE_SECONDS if ev.welcome_code else 0.0
        profile, raw = self.identities.profile(tenant, ev, within(self.base_wecom, self.budget.keep(reserve)))
        if customer is None:
            merged = self.identities.match(tenant, raw, ev)
            if merged is not None:
                existing, fact_exists, by = merged
                if existing.was_applied(digest) or fact_exists:
                    return IntakeResult("duplicate", existing.customer_id)
                self.repo.put_alias(tid, Alias("ext", ext_digest, existing.customer_id))
                updated, kind = apply_add(
                    existing,
                    ev=ev,
                    digest=digest,
                    channel_id=channel_id,
                    profile=profile,
                    tags=tags,
                    at=at,
                    now=now,
                    merged_by=by,
                )
                updated = updated.with_alias("ext", ext_digest)
                fact = self._fact(tenant, updated.customer_id, ev, digest, at, channel_id, {"kind": kind, "by": by})
                merge_counter = StaffDayDelta(ev.userid, date, {"adds": 1, "n_merge": 1, counter_key: 1})
                self.repo.save_event(tid, updated, expected_version=existing.version, fact=fact, counter=merge_counter)
                merged_signal = Signal(MERGED, self.clock.now(), kind=by, ref=digest, staff=ev.userid)
                self.signals.publish(tenant, updated.customer_id, merged_signal)  # outbound webhooks (issue 14 §6)
                return self._after_add(tenant, ev, updated, channel, snap, date, "merged", profile is not None)
            created = new_customer(
                customer_id=cid,
                ev=ev,
                digest=digest,
                channel_id=channel_id,
                profile=profile,
                tags=tags,
                at=at,
                now=now,
            )
            created = self.identities.claim(tenant, created, raw, ev)
            self.repo.create_customer(
                tid, created, StaffDayDelta(ev.userid, date, {"adds": 1, "n_new": 1, counter_key: 1})
            )
            return self._after_add(tenant, ev, created, channel, snap, date, "created", profile is not None)
        updated, kind = apply_add(
            customer, ev=ev, digest=digest, channel_id=channel_id, profile=profile, tags=tags, at=at, now=now
        )
        fact = self._fact(tenant, customer.customer_id, ev, digest, at, channel_id, {"kind": kind})
        counter: StaffDayDelta | None = None
        if kind == "readd":
            counter = StaffDayDelta(ev.userid, date, {"adds": 1, "n_readd": 1, counter_key: 1})
        self.repo.save_event(tid, updated, expected_version=customer.version, fact=fact, counter=counter)
        outcome = "readd" if kind == "readd" else "confirmed"
        return self._after_add(tenant, ev, updated, channel, snap, date, outcome, profile is not None)

    def _after_add(
        self,
        tenant: Tenant,
        ev: ContactEvent,
        customer: Customer,
        channel: Channel | None,
        snap: IntakeSnapshot,
        date: str,
        outcome: str,
        synced: bool,
    ) -> IntakeResult:
        """WeCom side effects of the delivery that won (intake_effects.py), within the callback's budget."""
        welcome = self._effects().after_add(tenant, ev, customer, channel, snap, date, outcome, synced=synced)
        logger.info(
            "contact event applied",
            extra={
                "tenant": tenant.tenant_id,
                "outcome": outcome,
                "customer_id": customer.customer_id,
                "welcome": welcome,
            },
        )
        return IntakeResult(outcome, customer.customer_id, welcome=welcome)

    def _effects(self) -> AddEffects:
        return AddEffects(
            self.repo, self.wecom, self.clock, self.signals, self.enroller, self.tasks, self.repairs, self.library
        )

    # --- other changes ----------------------------------------------------------------------------------------

    def _change(self, tenant: Tenant, ev: ContactEvent, digest: str, customer: Customer) -> IntakeResult:
        at = iso_local(ev.create_time, tenant.zone)
        now = iso_of(self.clock.now(), tenant.zone)
        date = local_date(ev.create_time, tenant.zone)
        counter: StaffDayDelta | None = None
        detail: dict[str, str] = {}
        synced = True
        if ev.change_type == DEL_FOLLOW:
            updated, outcome = apply_customer_deleted_staff(customer, ev=ev, digest=digest, at=at, now=now), "lost"
            counter = StaffDayDelta(ev.userid, date, {"n_lost": 1})
        elif ev.change_type == DEL_EXTERNAL:
            updated, outcome = apply_staff_deleted_customer(customer, ev=ev, digest=digest, at=at, now=now), "ended"
            detail = {"source": ev.source} if ev.source else {}
            if ev.source == BY_TRANSFER:  # a hand-over (客户交接) ended the old relation: neither a deletion nor a loss
                outcome = "transferred"
            else:
                counter = StaffDayDelta(ev.userid, date, {"n_deleted": 1})
        elif ev.change_type == EDIT:
            (updated, synced), outcome = self._edit(tenant, ev, digest, customer, now), "updated"
        else:
            updated, outcome = apply_noted(customer, digest=digest, now=now), "noted"
            detail = {"fail_reason": ev.fail_reason}
        fact = self._fact(tenant, customer.customer_id, ev, digest, at, "", detail)
        self.repo.save_event(tenant.tenant_id, updated, expected_version=customer.version, fact=fact, counter=counter)
        if not synced:  # the edit's profile could not be read: the repair queue reads it later
            self._effects().repair(PROFILE_SYNC, tenant, ev=ev, customer_id=customer.customer_id)
        if outcome in ("lost", "ended"):  # the customer deleted the staff member, or the staff member deleted them
            lost = Signal(LOST, self.clock.now(), kind=outcome, ref=digest, staff=ev.userid)
            self.signals.publish(tenant, customer.customer_id, lost)
        if any(a.startswith("phone:") and a not in customer.aliases for a in updated.aliases):  # the CRM may know it
            self.signals.publish(tenant, customer.customer_id, Signal(PHONE_NOTED, self.clock.now(), customer=updated))
        if ev.change_type == TRANSFER_FAIL:  # a hand-over failed (services/handover.py follows it): told once
            failed = Signal(TRANSFER_FAILED, self.clock.now(), kind=ev.fail_reason, ref=digest, staff=ev.userid)
            self.signals.publish(tenant, customer.customer_id, failed)
        added = sorted(updated.tags - customer.tags)
        if added:  # staff tagged the customer in WeCom: tag-triggered plans
            self.signals.publish(tenant, customer.customer_id, Signal(TAG, self.clock.now(), tag_ids=tuple(added)))
        logger.info(
            "contact event applied",
            extra={"tenant": tenant.tenant_id, "outcome": outcome, "customer_id": customer.customer_id},
        )
        return IntakeResult(outcome, customer.customer_id)

    def _edit(
        self, tenant: Tenant, ev: ContactEvent, digest: str, customer: Customer, now: str
    ) -> tuple[Customer, bool]:
        """Staff edited remark or tags in their client: WeCom is the authority for the tags it mirrors. Also whether
        the profile could be read (False: a repair is due)."""
        profile, raw = self.identities.profile(tenant, ev)
        tags = None
        if profile is not None:
            taxonomy = self.repo.taxonomy(tenant.tenant_id)
            by_wecom = {t.wecom_id: t.tag_id for g in taxonomy.groups for t in g.tags if t.wecom_id}
            mirrored = set(by_wecom.values())
            tags = frozenset((customer.tags - mirrored) | {by_wecom[w] for w in profile.wecom_tag_ids if w in by_wecom})
        updated = apply_edit(customer, digest=digest, profile=profile, tags=tags, now=now)
        phone = phone_of(raw, ev.userid) if raw else None
        if phone:
            digest_p = tenant.hmac_hex("phone:" + phone)
            try:
                self.repo.put_alias(tenant.tenant_id, Alias("phone", digest_p, customer.customer_id))
                updated = updated.with_alias("phone", digest_p)
            except ConflictError:
                logger.info("phone already belongs to another customer; left for manual merge")
        return updated, profile is not None

    # --- records ----------------------------------------------------------------------------------------------

    @staticmethod
    def _fact(
        tenant: Tenant,
        customer_id: str,
        ev: ContactEvent,
        digest: str,
        at: str,
        channel_id: str | None,
        detail: dict[str, str],
    ) -> Fact:
        return Fact(
            tenant_id=tenant.tenant_id,
            customer_id=customer_id,
            create_time=ev.create_time,
            digest=digest,
            type=ev.change_type,
            at=at,
            userid=ev.userid,
            channel_id=channel_id or "",
            detail=detail,
        )

    def _ignore(self, tenant: Tenant, ev: ContactEvent, digest: str, reason: str) -> IntakeResult:
        """Answer 200 but keep a 30-day record for operators. It holds no customer identifier at all."""
        fact = Fact(
            tenant_id=tenant.tenant_id,
            customer_id="",
            create_time=ev.create_time,
            digest=digest,
            type=f"{ev.event}/{ev.change_type}".strip("/"),
            at=iso_local(ev.create_time, tenant.zone),
            userid=ev.userid,
        )
        first = self.repo.record_ignored(
            tenant.tenant_id, fact, date=local_date(ev.create_time, tenant.zone), reason=reason
        )
        logger.info(
            "contact event ignored",
            extra={"tenant": tenant.tenant_id, "reason": reason, "type": fact.type, "first": first},
        )
        return IntakeResult("ignored" if first else "duplicate", reason=reason)
