"""Channel intake: one customer-contact event becomes a tagged, attributed, welcomed customer — exactly once.

Effectively-once without a lock: the event's digest goes into the same conditional write that changes the customer
(the profile put for a first add; a fact put plus a versioned profile put otherwise), and the day's counters join
that transaction. A repeat finds its digest (one batched read, no WeCom call) or loses the condition. WeCom side
effects run only in the delivery that won: the welcome message is therefore sent at most once, within the
WelcomeCode's 20 s, and 41051 ("already chatting") is accepted as delivered — never a retry loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.channels import ORGANIC, Channel, at_cap, code_users
from chalicelib.domain.contact_events import DEL_EXTERNAL, DEL_FOLLOW, EDIT, ContactEvent
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
from chalicelib.domain.signals import ADDED, LOST, TAG, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, SiyuError
from chalicelib.observability import logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    Enroller,
    IntakeKeys,
    IntakeRepository,
    IntakeSnapshot,
    SignalPublisher,
    TagRepository,
    WeComPort,
    WelcomeOutcome,
)
from chalicelib.services.identities import Identities, credentials, phone_of
from chalicelib.services.signals import NoSignals

CHANNEL_ID_RE = re.compile(r"^(ch|rf)_[a-z0-9]{4,27}$")
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class IntakeResult:
    """What one delivery did. ``outcome``: created, merged, readd, confirmed, lost, ended, updated, noted,
    duplicate or ignored."""

    outcome: str
    customer_id: str | None = None
    welcome: str | None = None
    reason: str | None = None


class IntakeRepo(IntakeRepository, ChannelRepository, TagRepository, Protocol):
    """What intake needs from storage."""


class IntakeService:
    def __init__(
        self,
        repo: IntakeRepo,
        wecom: WeComPort,
        clock: Clock,
        enroller: Enroller | None = None,
        signals: SignalPublisher | None = None,
    ) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.enroller = enroller
        self.identities = Identities(repo, wecom)
        self.signals = signals or NoSignals()  # "added" and "tag": the plans they trigger enroll

    # --- entry point ------------------------------------------------------------------------------------------

    def handle(self, tenant: Tenant, ev: ContactEvent) -> IntakeResult:
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
        profile, raw = self.identities.profile(tenant, ev)
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
                return self._after_add(tenant, ev, updated, channel, snap, date, "merged")
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
            return self._after_add(tenant, ev, created, channel, snap, date, "created")
        updated, kind = apply_add(
            customer, ev=ev, digest=digest, channel_id=channel_id, profile=profile, tags=tags, at=at, now=now
        )
        fact = self._fact(tenant, customer.customer_id, ev, digest, at, channel_id, {"kind": kind})
        counter: StaffDayDelta | None = None
        if kind == "readd":
            counter = StaffDayDelta(ev.userid, date, {"adds": 1, "n_readd": 1, counter_key: 1})
        self.repo.save_event(tid, updated, expected_version=customer.version, fact=fact, counter=counter)
        return self._after_add(tenant, ev, updated, channel, snap, date, "readd" if kind == "readd" else "confirmed")

    def _after_add(
        self,
        tenant: Tenant,
        ev: ContactEvent,
        customer: Customer,
        channel: Channel | None,
        snap: IntakeSnapshot,
        date: str,
        outcome: str,
    ) -> IntakeResult:
        """WeCom side effects of the delivery that won: welcome first (20 s clock), then tags, then rotation."""
        welcome = self._welcome(tenant, ev, channel)
        creds = credentials(tenant)
        wecom_tags = [t.wecom_id for t in (channel.tags if channel else ()) if t.wecom_id]
        if wecom_tags and outcome != "confirmed":
            try:
                self.wecom.mark_tag(
                    creds, userid=ev.userid, external_userid=ev.external_userid, add_tag=wecom_tags, remove_tag=[]
                )
            except SiyuError as exc:
                logger.warning(
                    "mark_tag failed; local tags stand", extra={"code": exc.code, "tenant": tenant.tenant_id}
                )
        if outcome != "confirmed":  # a relation that already existed adds nobody: no rotation, no signal
            if channel is not None:
                self._rotate(tenant, channel, ev.userid, snap, date)
            kind = "readd" if outcome == "readd" else "new"
            channel_id = channel.channel_id if channel is not None else None
            self.signals.publish(
                tenant, customer.customer_id, Signal(ADDED, self.clock.now(), kind=kind, channel_id=channel_id)
            )
            if channel is not None:
                self._enroll(tenant, channel, customer)
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

    def _welcome(self, tenant: Tenant, ev: ContactEvent, channel: Channel | None) -> str:
        if not ev.welcome_code:
            return WelcomeOutcome.NO_CODE
        if channel is None or not (channel.welcome.text or channel.welcome.attachments):
            return WelcomeOutcome.NO_MESSAGE
        try:
            return self.wecom.send_welcome_msg(
                credentials(tenant), welcome_code=ev.welcome_code, message=channel.welcome
            )
        except SiyuError as exc:
            logger.warning("welcome message failed", extra={"code": exc.code, "tenant": tenant.tenant_id})
            return WelcomeOutcome.FAILED

    def _rotate(self, tenant: Tenant, channel: Channel, userid: str, snap: IntakeSnapshot, date: str) -> None:
        """Keep the code pointing at who should get the next customer: round-robin order, caps, backup."""
        ch_adds = snap.counters.get(f"c#{channel.channel_id}", 0) + 1
        staff_adds = snap.counters.get("adds", 0) + 1
        staff_cap = snap.staff.daily_cap if snap.staff else None
        full = channel.full_today(date)
        try:
            if userid not in full and at_cap(channel, userid, ch_adds, staff_adds, staff_cap):
                self.repo.mark_channel_full(tenant.tenant_id, channel.channel_id, userid, date)
                full = full | {userid}
            users = code_users(channel, userid, date, full)
            if channel.config_id and users != [userid]:
                self.wecom.update_contact_way(
                    credentials(tenant),
                    config_id=channel.config_id,
                    users=users,
                    state=channel.state,
                    remark=channel.name[:30],
                )
        except SiyuError as exc:
            logger.warning(
                "channel rotation failed",
                extra={"code": exc.code, "tenant": tenant.tenant_id, "channel_id": channel.channel_id},
            )

    def _enroll(self, tenant: Tenant, channel: Channel, customer: Customer) -> None:
        """The channel's plan (新客培育): enrollment follows the add; its failure never fails the callback."""
        now = self.clock.now()
        if channel.tags:
            self.signals.publish(
                tenant, customer.customer_id, Signal(TAG, now, tag_ids=tuple(t.tag_id for t in channel.tags))
            )
        try:
            if channel.plan_id and self.enroller is not None:
                self.enroller.enroll(tenant, customer.customer_id, channel.plan_id, source="channel")
        except SiyuError as exc:
            logger.warning(
                "enrollment from channel failed",
                extra={"code": exc.code, "tenant": tenant.tenant_id, "plan_id": channel.plan_id},
            )

    # --- other changes ----------------------------------------------------------------------------------------

    def _change(self, tenant: Tenant, ev: ContactEvent, digest: str, customer: Customer) -> IntakeResult:
        at = iso_local(ev.create_time, tenant.zone)
        now = iso_of(self.clock.now(), tenant.zone)
        date = local_date(ev.create_time, tenant.zone)
        counter: StaffDayDelta | None = None
        detail: dict[str, str] = {}
        if ev.change_type == DEL_FOLLOW:
            updated, outcome = apply_customer_deleted_staff(customer, ev=ev, digest=digest, at=at, now=now), "lost"
            counter = StaffDayDelta(ev.userid, date, {"n_lost": 1})
        elif ev.change_type == DEL_EXTERNAL:
            updated, outcome = apply_staff_deleted_customer(customer, ev=ev, digest=digest, at=at, now=now), "ended"
            detail = {"source": ev.source} if ev.source else {}
            counter = StaffDayDelta(ev.userid, date, {"n_deleted": 1})
        elif ev.change_type == EDIT:
            updated, outcome = self._edit(tenant, ev, digest, customer, now), "updated"
        else:
            updated, outcome = apply_noted(customer, digest=digest, now=now), "noted"
            detail = {"fail_reason": ev.fail_reason}
        fact = self._fact(tenant, customer.customer_id, ev, digest, at, "", detail)
        self.repo.save_event(tenant.tenant_id, updated, expected_version=customer.version, fact=fact, counter=counter)
        if outcome in ("lost", "ended"):  # the customer deleted the staff member, or the staff member deleted them
            self.signals.publish(tenant, customer.customer_id, Signal(LOST, self.clock.now(), kind=outcome))
        added = sorted(updated.tags - customer.tags)
        if added:  # staff tagged the customer in WeCom: tag-triggered plans
            self.signals.publish(tenant, customer.customer_id, Signal(TAG, self.clock.now(), tag_ids=tuple(added)))
        logger.info(
            "contact event applied",
            extra={"tenant": tenant.tenant_id, "outcome": outcome, "customer_id": customer.customer_id},
        )
        return IntakeResult(outcome, customer.customer_id)

    def _edit(self, tenant: Tenant, ev: ContactEvent, digest: str, customer: Customer, now: str) -> Customer:
        """Staff edited remark or tags in their client: WeCom is the authority for the tags it mirrors."""
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
        return updated

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
