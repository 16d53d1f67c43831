"""Customers (客户): identity, first-touch attribution, relations with staff, lifecycle stage, tags.

Pure functions turn a customer plus one contact event into the next customer. Personal data is kept minimal:
names for display, a masked phone, and keyed digests (never raw unionid or phone) for identity matching.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from chalicelib.domain.channels import ORGANIC
from chalicelib.domain.contact_events import ContactEvent
from chalicelib.errors import InvalidError

RECENT_EVENT_KEYS = 6  # dedupe window on the profile itself; older duplicates of later events hit their facts
MAX_TOUCHES = 100
MAX_MERGES = 20


class Stage(StrEnum):
    """Lifecycle stages. new→nurturing (enrolled), hot (positive reply), trial/converted (orders), silent
    (long silence), lost (deleted the staff). Transitions beyond new and lost arrive with the SOP issue."""

    NEW = "new"
    NURTURING = "nurturing"
    HOT = "hot"
    TRIAL = "trial"
    CONVERTED = "converted"
    SILENT = "silent"
    LOST = "lost"


_ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.NEW: frozenset({Stage.NURTURING, Stage.HOT, Stage.TRIAL, Stage.CONVERTED, Stage.SILENT, Stage.LOST}),
    Stage.NURTURING: frozenset({Stage.HOT, Stage.TRIAL, Stage.CONVERTED, Stage.SILENT, Stage.LOST}),
    Stage.HOT: frozenset({Stage.NURTURING, Stage.TRIAL, Stage.CONVERTED, Stage.SILENT, Stage.LOST}),
    Stage.TRIAL: frozenset({Stage.HOT, Stage.CONVERTED, Stage.SILENT, Stage.LOST}),
    Stage.CONVERTED: frozenset({Stage.HOT, Stage.SILENT, Stage.LOST}),
    Stage.SILENT: frozenset({Stage.NURTURING, Stage.HOT, Stage.TRIAL, Stage.CONVERTED, Stage.LOST}),
    Stage.LOST: frozenset(),  # only a re-add leaves `lost`, back to the stage before it
}


def can_transition(current: Stage, target: Stage) -> bool:
    return target == current or target in _ALLOWED[current]


def transition(current: Stage, target: Stage) -> Stage:
    if not can_transition(current, target):
        raise InvalidError(f"a customer cannot move from {current.value} to {target.value}")
    return target


@dataclass(frozen=True)
class Attribution:
    """One attribution: the customer added ``userid`` through ``channel_id`` at ``at`` (ISO-8601)."""

    channel_id: str
    userid: str
    at: str
    kind: str  # new | readd | merge | confirm


@dataclass(frozen=True)
class Relation:
    """A (staff member, external contact) follow relation and how it ended, if it did."""

    userid: str
    external_userid: str
    state: str  # active | ended | lost
    since: str
    ended_at: str | None = None
    reason: str | None = None  # deleted_by_staff | transfer | customer_deleted


@dataclass(frozen=True)
class Merge:
    at: str
    by: str  # unionid | phone
    external_userid: str


@dataclass(frozen=True)
class Customer:
    customer_id: str
    external_userid: str
    owner_userid: str
    source_channel_id: str
    stage: Stage
    added_at: str
    created_at: str
    updated_at: str
    name: str = ""
    gender: int = 0
    contact_type: int = 1  # 1 WeChat user, 2 WeCom user
    corp_name: str = ""
    external_userids: tuple[str, ...] = ()
    has_unionid: bool = False
    phone_masked: str = ""
    referrer_customer_id: str | None = None  # read from the source referral code; older records store it
    tags: frozenset[str] = frozenset()
    touches: tuple[Attribution, ...] = ()
    relations: tuple[Relation, ...] = ()
    merges: tuple[Merge, ...] = ()
    stage_before_lost: Stage | None = None
    lost_at: str | None = None
    lost_by: str | None = None
    readds: int = 0
    profile_synced: bool = False
    aliases: tuple[str, ...] = ()  # "kind:digest" identity pointers to delete on erasure
    created_by: str = ""  # digest of the event that created the customer (its first add has no separate fact)
    applied: tuple[str, ...] = ()
    version: int = 0
    last_inbound_at: str | None = None  # the customer's latest message to us (business events), tenant time
    suppress_marketing: bool = False  # a negative reply (退订, 别发了…): no marketing touches any more

    def public(self) -> dict[str, Any]:
        """The customer as the admin API shows it (no identity digests, no dedupe keys)."""
        return {
            "customer_id": self.customer_id,
            "external_userid": self.external_userid,
            "external_userids": list(self.external_userids),
            "owner_userid": self.owner_userid,
            "source_channel_id": self.source_channel_id,
            "referrer_customer_id": self.referrer_customer_id,
            "stage": self.stage.value,
            "tags": sorted(self.tags),
            "name": self.name,
            "gender": self.gender,
            "contact_type": self.contact_type,
            "corp_name": self.corp_name,
            "phone": self.phone_masked or None,
            "added_at": self.added_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "readds": self.readds,
            "lost_at": self.lost_at,
            "lost_by": self.lost_by,
            "touches": [asdict(t) for t in self.touches],
            "relations": [asdict(r) for r in self.relations],
            "merges": [asdict(m) for m in self.merges],
            "last_inbound_at": self.last_inbound_at,
            "suppress_marketing": self.suppress_marketing,
        }

    def with_alias(self, kind: str, digest: str) -> Customer:
        ref = f"{kind}:{digest}"
        return self if ref in self.aliases else replace(self, aliases=(*self.aliases, ref))

    def was_applied(self, event_digest: str) -> bool:
        return event_digest == self.created_by or event_digest in self.applied

    def relation(self, userid: str, external_userid: str) -> Relation | None:
        return next((r for r in self.relations if r.userid == userid and r.external_userid == external_userid), None)

    @property
    def active_relations(self) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations if r.state == "active")


@dataclass(frozen=True)
class ProfileFacts:
    """What intake learned about the person from WeCom, already reduced to what we keep."""

    name: str = ""
    gender: int = 0
    contact_type: int = 1
    corp_name: str = ""
    has_unionid: bool = False
    phone_masked: str = ""
    synced: bool = False
    wecom_tag_ids: frozenset[str] = field(default_factory=frozenset)


def customer_id_for(digest: str) -> str:
    """A customer's id, derived from the tenant-keyed digest of its first external_userid.

    Deterministic ids make concurrent first deliveries converge on one item (a conditional put decides), and
    never expose the external_userid itself.
    """
    raw = bytes.fromhex(digest[:30])
    return "c" + base64.b32encode(raw).decode().rstrip("=").lower()[:20]


def normalize_phone(phone: str) -> str | None:
    """Mainland mobile numbers reduced to 11 digits (strip +86, spaces, dashes); None when not a phone."""
    digits = re.sub(r"[\s\-()]", "", phone)
    digits = re.sub(r"^(\+?86)", "", digits)
    return digits if re.fullmatch(r"1\d{10}", digits) else None


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def _remember(applied: tuple[str, ...], digest: str) -> tuple[str, ...]:
    return (*applied, digest)[-RECENT_EVENT_KEYS:]


def _with_touch(c: Customer, touch: Attribution) -> tuple[Attribution, ...]:
    return (*c.touches, touch)[-MAX_TOUCHES:]


def _with_profile(c: Customer, p: ProfileFacts | None) -> Customer:
    if p is None or not p.synced:
        return c
    return replace(
        c,
        name=p.name or c.name,
        gender=p.gender or c.gender,
        contact_type=p.contact_type,
        corp_name=p.corp_name or c.corp_name,
        has_unionid=c.has_unionid or p.has_unionid,
        phone_masked=p.phone_masked or c.phone_masked,
        profile_synced=True,
    )


def _set_relation(c: Customer, rel: Relation) -> tuple[Relation, ...]:
    others = tuple(r for r in c.relations if not (r.userid == rel.userid and r.external_userid == rel.external_userid))
    return (*others, rel)


def new_customer(
    *,
    customer_id: str,
    ev: ContactEvent,
    digest: str,
    channel_id: str | None,
    profile: ProfileFacts | None,
    tags: frozenset[str],
    at: str,
    now: str,
) -> Customer:
    """The customer a first add creates: first-touch source fixed here for good, owner = the adding staff. A referral
    code's referrer is not copied in: the code's id is, and the referrer is read from the code while it lives."""
    source = channel_id or ORGANIC
    c = Customer(
        customer_id=customer_id,
        external_userid=ev.external_userid,
        external_userids=(ev.external_userid,),
        owner_userid=ev.userid,
        source_channel_id=source,
        stage=Stage.NEW,
        added_at=at,
        created_at=now,
        updated_at=now,
        tags=tags,
        touches=(Attribution(source, ev.userid, at, "new"),),
        relations=(Relation(ev.userid, ev.external_userid, "active", at),),
        created_by=digest,
        version=1,
    )
    return _with_profile(c, profile)


def apply_add(
    c: Customer,
    *,
    ev: ContactEvent,
    digest: str,
    channel_id: str | None,
    profile: ProfileFacts | None,
    tags: frozenset[str],
    at: str,
    now: str,
    merged_by: str | None = None,
) -> tuple[Customer, str]:
    """An add for a customer we know. Returns the customer and the touch kind:

    - ``merge``: a new external contact matched on unionid/phone (撞单) — recorded, not a new customer;
    - ``readd``: the relation had ended (lost or deleted) — the stage before the loss comes back;
    - ``confirm``: the relation is already active (e.g. add after add_half) — a touch, nothing more.
    The first-touch source never changes.
    """
    source = channel_id or ORGANIC
    rel = c.relation(ev.userid, ev.external_userid)
    if merged_by:
        kind = "merge"
    elif rel is not None and rel.state == "active":
        kind = "confirm"
    else:
        kind = "readd"
    stage = c.stage
    stage_before_lost = c.stage_before_lost
    lost_at, lost_by = c.lost_at, c.lost_by
    if c.stage == Stage.LOST and kind in ("readd", "merge"):
        stage = c.stage_before_lost or Stage.NEW
        stage_before_lost, lost_at, lost_by = None, None, None
    merges = c.merges
    ext_ids = c.external_userids
    if merged_by:
        merges = (*merges, Merge(at, merged_by, ev.external_userid))[-MAX_MERGES:]
        if ev.external_userid not in ext_ids:
            ext_ids = (*ext_ids, ev.external_userid)
    owner = ev.userid if kind in ("readd", "merge") and not c.active_relations else c.owner_userid
    updated = replace(
        c,
        stage=stage,
        stage_before_lost=stage_before_lost,
        lost_at=lost_at,
        lost_by=lost_by,
        owner_userid=owner,
        tags=c.tags | tags,
        touches=_with_touch(c, Attribution(source, ev.userid, at, kind)),
        relations=_set_relation(c, Relation(ev.userid, ev.external_userid, "active", at)),
        merges=merges,
        external_userids=ext_ids,
        readds=c.readds + (1 if kind == "readd" else 0),
        applied=_remember(c.applied, digest),
        updated_at=now,
        version=c.version + 1,
    )
    return _with_profile(updated, profile), kind


def apply_customer_deleted_staff(c: Customer, *, ev: ContactEvent, digest: str, at: str, now: str) -> Customer:
    """del_follow_user: the customer deleted the staff member (流失). Stage becomes lost, with time and staff."""
    rel = Relation(ev.userid, ev.external_userid, "lost", _since(c, ev), at, "customer_deleted")
    return replace(
        c,
        relations=_set_relation(c, rel),
        stage=Stage.LOST,
        stage_before_lost=c.stage if c.stage != Stage.LOST else c.stage_before_lost,
        lost_at=at,
        lost_by=ev.userid,
        applied=_remember(c.applied, digest),
        updated_at=now,
        version=c.version + 1,
    )


def apply_staff_deleted_customer(c: Customer, *, ev: ContactEvent, digest: str, at: str, now: str) -> Customer:
    """del_external_contact: the staff member removed the customer; that relation ends (transfer or deletion).

    When no active relation remains the customer is unreachable, which the stage records as lost."""
    reason = "transfer" if ev.source == "DELETE_BY_TRANSFER" else "deleted_by_staff"
    relations = _set_relation(c, Relation(ev.userid, ev.external_userid, "ended", _since(c, ev), at, reason))
    updated = replace(
        c, relations=relations, applied=_remember(c.applied, digest), updated_at=now, version=c.version + 1
    )
    if reason != "transfer" and not updated.active_relations and c.stage != Stage.LOST:
        updated = replace(updated, stage=Stage.LOST, stage_before_lost=c.stage, lost_at=at, lost_by=ev.userid)
    if reason == "transfer" and c.owner_userid == ev.userid and updated.active_relations:
        # WeCom moved the owner's customer (a hand-over): whoever follows them now, the latest first, owns them
        newest = max(updated.active_relations, key=lambda r: r.since)
        updated = replace(updated, owner_userid=newest.userid)
    return updated


def apply_edit(
    c: Customer, *, digest: str, profile: ProfileFacts | None, tags: frozenset[str] | None, now: str
) -> Customer:
    """edit_external_contact: staff changed remark or tags in their client; refresh what we keep."""
    updated = replace(c, applied=_remember(c.applied, digest), updated_at=now, version=c.version + 1)
    if tags is not None:
        updated = replace(updated, tags=tags)
    return _with_profile(updated, profile)


def apply_noted(c: Customer, *, digest: str, now: str) -> Customer:
    """An event that only goes on the timeline (transfer_fail): remembered for dedupe, nothing else changes."""
    return replace(c, applied=_remember(c.applied, digest), updated_at=now, version=c.version + 1)


def _since(c: Customer, ev: ContactEvent) -> str:
    rel = c.relation(ev.userid, ev.external_userid)
    return rel.since if rel else c.added_at


def apply_profile_sync(c: Customer, profile: ProfileFacts, *, now: str) -> Customer:
    """A profile sync the callback could not make, made later (the repair queue): WeCom's profile as it is now. The
    same profile applied twice changes nothing the second time (``c`` itself comes back: nothing to save)."""
    synced = _with_profile(c, profile)
    return c if synced == c else replace(synced, updated_at=now, version=c.version + 1)
