"""One (contact, staff member) relation read from WeCom by the contact sync, applied to Siyu: effectively once.

A relation is keyed by the add event WeCom would have sent for it (``add_external_contact``, the staff member, the
external_userid and the relation's createtime): its digest is the very one the real callback has, so a relation
whose callback was handled is recognised as such, and a relation applied by the sync twice (a page run again after
a crash, the whole sync run twice) is applied once.

Two kinds of relation (docs/contact-sync.md):

- **Pre-existing** (createtime at or before the tenant's first sync started): imported quietly. A new customer, a
  撞单 merge into the customer its unionid or phone already names (services/identities.py, the aliases intake
  uses), or one more relation of a known customer. No welcome, no plan, no signal, no count in the day's adds: they
  are not new, they were there before Siyu.
- **Missed** (created after the first sync started): an add whose callback Siyu never handled (it was down). It
  goes through intake itself, as a callback without a welcome code (the code is long gone): attributed to its
  channel by its state, counted, tagged, enrolled in its channel's plan.

Either way WeCom's tags on the owner's relation are then mirrored onto the customer (the tags Siyu keeps without a
WeCom id are left alone), as an ``edit_external_contact`` would: only the owner's, so two staff tagging one
customer differently do not make each sync flip the tags back and forth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.domain.channels import Channel
from chalicelib.domain.contact_events import ADD, ContactEvent
from chalicelib.domain.customers import Customer, apply_add, apply_edit, customer_id_for, new_customer
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.domain.instants import iso_local, iso_of, local_date
from chalicelib.domain.signals import TAG, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError
from chalicelib.ports import Clock, ExternalProfile, IntakeRepository, SignalPublisher, WeComPort
from chalicelib.services.identities import Identities
from chalicelib.services.intake import CHANNEL_ID_RE, IntakeResult

CREATED, MERGED, LINKED, MISSED_ADD, TAGS, UNCHANGED, SKIPPED = (
    "created",
    "merged",
    "linked",
    "missed_add",
    "tags",
    "unchanged",
    "skipped",
)
MAX_ATTEMPTS = 3
NEW_BY_INTAKE = frozenset({"created", "merged", "readd"})

ASSIGNED_ADD_WAYS = frozenset({201, 202})  # WeCom's add_way: 内部成员共享, 管理员/负责人分配


class ImportStore(IntakeRepository, Protocol):
    """What the import needs from storage besides intake's reads and writes."""

    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None: ...


@dataclass
class Walk:
    """What one slice of a sync knows once: the first sync's start, WeCom's tag ids to Siyu's, the channels."""

    baseline: int  # unix seconds: the tenant's first sync started (relations created later are missed adds)
    by_wecom: dict[str, str]  # WeCom tag id -> Siyu tag id (the taxonomy's mirrored tags)
    channels: dict[str, Channel | None] = field(default_factory=dict)


class ContactImport:
    def __init__(
        self,
        repo: ImportStore,
        wecom: WeComPort,
        clock: Clock,
        intake: Callable[[Tenant, ContactEvent], IntakeResult],
        signals: SignalPublisher,
    ) -> None:
        self.repo = repo
        self.identities = Identities(repo, wecom)
        self.clock = clock
        self.intake = intake  # IntakeService.handle: a missed add is a callback that never came
        self.signals = signals

    def apply(self, tenant: Tenant, contact: ExternalProfile, walk: Walk) -> str:
        """Apply one relation (``contact.follow_users[0]``); what it did: created, merged, linked, missed_add,
        tags, unchanged or skipped. A concurrent change of the customer is re-read, at most three times."""
        if not contact.follow_users or not contact.external_userid or not contact.follow_users[0].userid:
            return SKIPPED
        follow = contact.follow_users[0]
        ev = ContactEvent(
            "change_external_contact", ADD, follow.userid, contact.external_userid, follow.createtime, follow.state
        )
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._apply(tenant, contact, ev, walk)
            except ConflictError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        return UNCHANGED  # pragma: no cover - the loop returns or raises

    def _apply(self, tenant: Tenant, contact: ExternalProfile, ev: ContactEvent, walk: Walk) -> str:
        # A relation the corp assigned (a hand-over, 在职/离职继承) or a colleague shared is never a new add, whenever
        # it began: it moves a customer Siyu may know, so it is linked quietly (the hand-over follows it itself).
        if ev.create_time > walk.baseline and contact.follow_users[0].add_way not in ASSIGNED_ADD_WAYS:
            result = self.intake(tenant, ev)
            if result.outcome in NEW_BY_INTAKE:  # its channel's tags were just applied (and marked in WeCom):
                return MISSED_ADD  # the page read before that is stale about them, so no mirror now
            if not result.customer_id:
                return SKIPPED if result.outcome == "ignored" else UNCHANGED
            return TAGS if self._mirror_tags(tenant, result.customer_id, contact, walk) else UNCHANGED
        tid, digest = tenant.tenant_id, ev.digest()
        ext_digest = tenant.hmac_hex("ext:" + ev.external_userid)
        cid = customer_id_for(ext_digest)
        customer, fact_exists = self.repo.load_customer(tid, cid, ev.create_time, digest)
        if customer is None:
            alias = self.repo.find_alias(tid, "ext", ext_digest)
            if alias is not None and alias.erased_at is not None and ev.create_time <= alias.erased_at:
                return SKIPPED  # erased on request: a relation older than the erasure is not brought back
            if alias is not None and alias.customer_id and alias.customer_id != cid:
                customer, fact_exists = self.repo.load_customer(tid, alias.customer_id, ev.create_time, digest)
        if customer is None:
            return self._create(tenant, contact, ev, digest, ext_digest, cid, walk)
        outcome = UNCHANGED
        rel = customer.relation(ev.userid, ev.external_userid)
        known = customer.was_applied(digest) or fact_exists or (rel is not None and rel.state == "active")
        if not known:
            customer = self._link(tenant, contact, ev, digest, customer, walk, by=None)
            outcome = LINKED
        tagged = self._mirror_tags(tenant, customer.customer_id, contact, walk, customer=customer)
        return TAGS if tagged and outcome == UNCHANGED else outcome

    def _create(
        self,
        tenant: Tenant,
        contact: ExternalProfile,
        ev: ContactEvent,
        digest: str,
        ext_digest: str,
        cid: str,
        walk: Walk,
    ) -> str:
        """A contact Siyu never met: merged into the customer its unionid or phone names (撞单), else created."""
        merged = self.identities.match(tenant, contact, ev)
        if merged is not None:
            existing, fact_exists, by = merged
            if existing.was_applied(digest) or fact_exists:
                return UNCHANGED
            self.repo.put_alias(tenant.tenant_id, Alias("ext", ext_digest, existing.customer_id))
            self._link(tenant, contact, ev, digest, existing, walk, by=by)
            return MERGED
        profile = Identities.facts(contact, ev.userid)
        created = new_customer(
            customer_id=cid,
            ev=ev,
            digest=digest,
            channel_id=self._channel_id(tenant, ev.state, walk),
            profile=profile,
            tags=self._mapped(contact, walk),
            at=iso_local(ev.create_time, tenant.zone),
            now=iso_of(self.clock.now(), tenant.zone),
        )
        created = self.identities.claim(tenant, created, contact, ev)
        # Not a new add: no count (an empty delta), no signal, no plan, no welcome.
        date = local_date(ev.create_time, tenant.zone)
        self.repo.create_customer(tenant.tenant_id, created, StaffDayDelta(ev.userid, date, {}))
        return CREATED

    def _link(
        self,
        tenant: Tenant,
        contact: ExternalProfile,
        ev: ContactEvent,
        digest: str,
        customer: Customer,
        walk: Walk,
        *,
        by: str | None,
    ) -> Customer:
        """One more relation of a known customer (another staff member's, or a 撞单 match ``by`` unionid/phone)."""
        at = iso_local(ev.create_time, tenant.zone)
        channel_id = self._channel_id(tenant, ev.state, walk)
        updated, kind = apply_add(
            customer,
            ev=ev,
            digest=digest,
            channel_id=channel_id,
            profile=Identities.facts(contact, ev.userid),
            tags=frozenset(),
            at=at,
            now=iso_of(self.clock.now(), tenant.zone),
            merged_by=by,
        )
        if by is not None:
            updated = updated.with_alias("ext", tenant.hmac_hex("ext:" + ev.external_userid))
        detail = {"kind": kind, "via": "contact_sync"} | ({"by": by} if by else {})
        fact = Fact(
            tenant_id=tenant.tenant_id,
            customer_id=customer.customer_id,
            create_time=ev.create_time,
            digest=digest,
            type=ev.change_type,
            at=at,
            userid=ev.userid,
            channel_id=channel_id or "",
            detail=detail,
        )
        self.repo.save_event(tenant.tenant_id, updated, expected_version=customer.version, fact=fact, counter=None)
        return updated

    def _mirror_tags(
        self,
        tenant: Tenant,
        customer_id: str,
        contact: ExternalProfile,
        walk: Walk,
        *,
        customer: Customer | None = None,
    ) -> bool:
        """WeCom's tags on the owner's relation onto the customer; whether anything changed. Tags it added set off
        tag-triggered plans, as a staff member's tagging in WeCom does (intake's edit)."""
        follow = contact.follow_users[0]
        current = customer if customer is not None else self.repo.get_customer(tenant.tenant_id, customer_id)
        if current is None or current.owner_userid != follow.userid or not walk.by_wecom:
            return False
        tags = (current.tags - set(walk.by_wecom.values())) | self._mapped(contact, walk)
        if tags == current.tags:
            return False
        key = "\x1f".join(("contact_sync_tags", contact.external_userid, follow.userid, *sorted(tags)))
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        updated = apply_edit(current, digest=digest, profile=None, tags=frozenset(tags), now=self._now(tenant))
        self.repo.save_customer(tenant.tenant_id, updated, expected_version=current.version)
        added = sorted(updated.tags - current.tags)
        if added:
            self.signals.publish(tenant, current.customer_id, Signal(TAG, self.clock.now(), tag_ids=tuple(added)))
        return True

    def _mapped(self, contact: ExternalProfile, walk: Walk) -> frozenset[str]:
        return frozenset(walk.by_wecom[w] for w in contact.follow_users[0].tag_ids if w in walk.by_wecom)

    def _channel_id(self, tenant: Tenant, state: str, walk: Walk) -> str | None:
        """The channel a relation's state names (first-touch source), if it is one of the tenant's channels."""
        if not CHANNEL_ID_RE.match(state):
            return None
        if state not in walk.channels:
            walk.channels[state] = self.repo.get_channel(tenant.tenant_id, state)
        return state if walk.channels[state] is not None else None

    def _now(self, tenant: Tenant) -> str:
        return iso_of(self.clock.now(), tenant.zone)
