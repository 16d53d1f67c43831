"""Customer reads, manual tagging and erasure (PIPL)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.channels import Channel, is_referral_of, legacy_referral_id
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.handover import reissued_task_id
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.points import Balance, Standing
from chalicelib.domain.signals import TAG, Signal
from chalicelib.domain.sop import Bucket, Enrollment
from chalicelib.domain.tags import apply_tags
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import PREFIX, follow_up_task_id
from chalicelib.domain.webhooks import customer_subject
from chalicelib.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, SiyuError
from chalicelib.observability import logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    CustomerFilter,
    CustomerRepository,
    Page,
    SignalPublisher,
    TagRepository,
    WeComCredentials,
    WeComPort,
)
from chalicelib.services.signals import NoSignals
from chalicelib.services.task_sync import escalation_task_id
from chalicelib.services.timeline import TimelineRepo, TimelineService

UTC_ZONE = ZoneInfo("UTC")
TIMELINE_LIMIT = 50  # the detail's first page; the rest through GET …/timeline
ERASED_REFERRAL = "rf_erased"  # what a deleted legacy (rf_<cid>) code becomes in the records of those it brought
ERASE_MAX_ITEMS = 2000  # partition items one erasure call deletes; a longer history takes further calls


class CustomerRepo(CustomerRepository, TagRepository, ChannelRepository, TimelineRepo, Protocol):
    """What customer administration needs from storage."""

    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def points_of(self, tenant_id: str, customer_id: str) -> tuple[Balance, list[Standing]]: ...
    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]: ...
    def erase_touches(self, tenant_id: str, customer_id: str, bucket_ids: list[str]) -> tuple[int, set[str]]: ...
    def drop_recipient(self, tenant_id: str, task_id: str, customer_id: str) -> bool: ...
    def rename_counter(self, tenant_id: str, userid: str, date: str, old: str, new: str) -> bool: ...
    def referral_code_of(self, tenant_id: str, customer_id: str) -> str | None: ...
    def erase_group_activity(self, tenant_id: str, member: str) -> int: ...  # their group activity (issue 10 §4)
    def erase_deliveries(self, tenant_id: str, subject: str) -> int: ...  # their outbound webhooks (issue 14 §6)


class GroupMemberEraser(Protocol):
    def erase(self, tenant: Tenant, external_userids: tuple[str, ...]) -> int: ...


class CrmEraser(Protocol):
    def erase_crm_orders(self, tenant_id: str, phone_digests: list[str]) -> int: ...  # issue 14 §5


class CustomerService:
    def __init__(
        self,
        repo: CustomerRepo,
        wecom: WeComPort,
        clock: Clock,
        signals: SignalPublisher | None = None,
        groups: GroupMemberEraser | None = None,
        crm: CrmEraser | None = None,
    ) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.signals = signals or NoSignals()  # "tag": plans triggered by a tag enroll the customer
        self.groups = groups  # erasure makes the customer's group member records anonymous (services/groups)
        self.crm = crm  # erasure deletes the CRM orders imported under the customer's phone (services/crm_import)

    def find(
        self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int, only_owner: str | None = None
    ) -> Page:
        """Customers, newest first. A staff token sees only the customers it owns."""
        if only_owner:
            if flt.owner_userid and flt.owner_userid != only_owner:
                raise ForbiddenError("a staff token lists only its own customers")
            flt = replace(flt, owner_userid=only_owner)
        page = self.repo.list_customers(tenant_id, flt, cursor=cursor, limit=limit)
        return Page(self._with_referrers(tenant_id, page.items), page.next_cursor)

    def _with_referrers(self, tenant_id: str, customers: list[Customer]) -> list[Customer]:
        """For display only (never saved): those a referral code brought store the code's id alone; their referrer
        is read from the code, so it is gone once the code is (the referrer's erasure deletes it)."""
        codes = {c.source_channel_id for c in customers if c.source_channel_id.startswith("rf_")}
        referrers: dict[str, str] = {}
        for code in sorted(codes):
            channel = self.repo.get_channel(tenant_id, code)
            if channel is not None and channel.kind == "referral" and channel.referrer_customer_id:
                referrers[code] = channel.referrer_customer_id
        return [
            replace(c, referrer_customer_id=referrers[c.source_channel_id])
            if c.referrer_customer_id is None and c.source_channel_id in referrers
            else c
            for c in customers
        ]

    def get(self, tenant_id: str, customer_id: str, *, only_owner: str | None = None) -> Customer:
        customer = self.repo.get_customer(tenant_id, customer_id)
        if customer is None or (only_owner and customer.owner_userid != only_owner):
            raise NotFoundError(f"customer {customer_id} does not exist")
        return customer

    def detail(
        self, tenant_id: str, customer_id: str, *, only_owner: str | None = None, zone: ZoneInfo = UTC_ZONE
    ) -> dict[str, Any]:
        """Profile, tags with names, channel touches and the timeline's first page (newest first), whose
        ``timeline_next_cursor`` continues at GET …/timeline."""
        customer = self.get(tenant_id, customer_id, only_owner=only_owner)
        body = self._with_referrers(tenant_id, [customer])[0].public()
        taxonomy = self.repo.taxonomy(tenant_id)
        names = {
            t.tag_id: {"tag_id": t.tag_id, "group": g.name, "name": t.name} for g in taxonomy.groups for t in g.tags
        }
        body["tag_details"] = [names.get(t, {"tag_id": t, "group": None, "name": None}) for t in sorted(customer.tags)]
        page = TimelineService(self.repo).page(tenant_id, customer, zone, limit=TIMELINE_LIMIT)
        body["timeline"], body["timeline_next_cursor"] = page["items"], page["next_cursor"]
        return body

    def timeline(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        zone: ZoneInfo,
        limit: int,
        cursor: str | None,
        before: datetime | None,
        only_owner: str | None = None,
    ) -> dict[str, Any]:
        """One page of the customer's timeline (a staff token: only its own customers)."""
        customer = self.get(tenant_id, customer_id, only_owner=only_owner)
        return TimelineService(self.repo).page(tenant_id, customer, zone, limit=limit, cursor=cursor, before=before)

    def change_tags(
        self,
        tenant: Tenant,
        customer_id: str,
        *,
        add: list[str],
        remove: list[str],
        actor: str,
        only_owner: str | None = None,
    ) -> Customer:
        """Add/remove tags (exclusive groups enforced) locally and on WeCom for every active relation."""
        if not add and not remove:
            raise InvalidError("give tags to add or remove")
        taxonomy = self.repo.taxonomy(tenant.tenant_id)
        for _ in range(3):
            customer = self.get(tenant.tenant_id, customer_id, only_owner=only_owner)
            tags, displaced = apply_tags(customer.tags, add, remove, taxonomy)
            now = self.clock.now()
            updated = replace(customer, tags=tags, updated_at=iso_of(now, tenant.zone), version=customer.version + 1)
            fact = Fact(
                tenant_id=tenant.tenant_id,
                customer_id=customer_id,
                create_time=int(now.timestamp()),
                digest=secrets.token_hex(12),
                type="tags_changed",
                at=iso_of(now, tenant.zone),
                userid=actor,
                detail={"added": sorted(tags - customer.tags), "removed": sorted(customer.tags - tags)},
            )
            try:
                self.repo.save_customer(tenant.tenant_id, updated, expected_version=customer.version, fact=fact)
            except ConflictError:
                continue
            self._mirror(
                tenant,
                updated,
                taxonomy_added=sorted(tags - customer.tags),
                taxonomy_removed=sorted((customer.tags - tags) | displaced),
                taxonomy=taxonomy,
            )
            added = sorted(tags - customer.tags)
            if added:
                self.signals.publish(tenant, customer_id, Signal(TAG, self.clock.now(), tag_ids=tuple(added)))
            return self._with_referrers(tenant.tenant_id, [updated])[0]
        raise ConflictError("the customer kept changing; try again")

    def _mirror(
        self,
        tenant: Tenant,
        customer: Customer,
        *,
        taxonomy_added: list[str],
        taxonomy_removed: list[str],
        taxonomy: Any,
    ) -> None:
        def wecom_ids(tag_ids: list[str]) -> list[str]:
            return [taxonomy.tag(t).wecom_id for t in tag_ids if taxonomy.tag(t).wecom_id]

        add, remove = wecom_ids(taxonomy_added), wecom_ids(taxonomy_removed)
        if not add and not remove:
            return
        creds = WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
        for rel in customer.active_relations:
            try:
                self.wecom.mark_tag(
                    creds, userid=rel.userid, external_userid=rel.external_userid, add_tag=add, remove_tag=remove
                )
            except SiyuError as exc:
                logger.warning("mark_tag failed; local tags stand", extra={"code": exc.code})

    def erase(self, tenant: Tenant, customer_id: str) -> dict[str, Any]:
        """Erase a customer's personal data everywhere Siyu stores it, and their words (PIPL).

        The walk: the referral code (its id is random and names no one, so those it brought keep it; the code
        goes, here and at WeCom, and with it their displayed referrer; the link goes with the partition); the
        customer's touches in the buckets of every plan version they were enrolled in, and their id in the staff
        tasks those touches and their replies made (a follow-up task about them alone goes whole); their activity
        records and daily first-occurrence markers in the groups they spoke or checked in; the CRM orders imported under
        their phone; every outbound webhook delivery about them (pending ones are then never sent); then their
        partition — profile, facts and the whole timeline, enrollments, quota, silence timers — at most
        ``ERASE_MAX_ITEMS`` items a call, the profile last, with tombstones (no identifier) for their aliases so
        WeCom's late retries do not re-create them. A call that stops early answers ``"erased": false``; calling
        again resumes (every step is idempotent). Day counters stay: anonymous counts."""
        tid = tenant.tenant_id
        customer = self.get(tid, customer_id)
        erased_at = int(self.clock.now().timestamp())
        refs = {tuple(ref.split(":", 1)) for ref in customer.aliases}
        refs |= {("ext", tenant.hmac_hex("ext:" + ext)) for ext in customer.external_userids}
        tombstones = [Alias(kind, digest, "", erased_at) for kind, digest in sorted(refs)]
        codes = self._referral_codes(tid, customer_id)
        referred = 0
        for referral in codes:  # a resumed erasure finds a code until it is gone
            if referral.channel_id == legacy_referral_id(customer_id):  # its id names the customer: rewrite it
                referred += self._forget_referrer(tenant, referral.channel_id)
            try:
                if referral.config_id:
                    creds = WeComCredentials(tid, tenant.corp_id, tenant.wecom_secret)
                    self.wecom.del_contact_way(creds, config_id=referral.config_id)
            except SiyuError as exc:
                logger.warning("referral contact way not removed at WeCom", extra={"code": exc.code})
            self.repo.delete_channel(tid, referral.channel_id)
        touches, tasks = self._erase_sop(tid, customer_id)
        self.repo.erase_group_activity(tid, customer_id)  # before the partition: its links lead to the groups
        if self.groups is not None:  # before the profile goes: its external_userids find the member records
            self.groups.erase(tenant, customer.external_userids)
        if self.crm is not None:  # before the profile goes: its phone aliases find the CRM orders
            phones = sorted(digest for kind, digest in refs if kind == "phone")
            self.crm.erase_crm_orders(tid, phones)
        hooks = self.repo.erase_deliveries(tid, customer_subject(customer_id))  # in every state, to every webhook
        deleted = self.repo.erase_customer(tid, customer_id, tombstones=tombstones, max_items=ERASE_MAX_ITEMS)
        done = deleted >= 0
        deleted = deleted if done else -1 - deleted
        logger.info(
            "customer erased",
            extra={"tenant": tid, "items": deleted, "touches": touches, "deliveries": hooks, "done": done},
        )
        return {
            "customer_id": customer_id,
            "erased": done,
            "items_deleted": deleted + touches,
            "tasks_updated": tasks,
            "referral_channel_deleted": bool(codes),
            "referred_customers_unlinked": referred,
            "webhook_deliveries_deleted": hooks,
        }

    def _referral_codes(self, tenant_id: str, customer_id: str) -> list[Channel]:
        """The customer's referral code: the one their partition links to, and one made before codes had random
        ids (``rf_<cid>``, on older tables) if it is still there."""
        code_id = self.repo.referral_code_of(tenant_id, customer_id)
        ids = dict.fromkeys(([code_id] if code_id else []) + [legacy_referral_id(customer_id)])
        found = [self.repo.get_channel(tenant_id, channel_id) for channel_id in ids]
        return [c for c in found if c is not None and is_referral_of(c, customer_id)]

    def _forget_referrer(self, tenant: Tenant, channel_id: str) -> int:
        """Legacy codes only (``rf_<cid>``). Customers who came through the erased customer's referral code keep
        their own record, but no longer name the referrer: ``referrer_customer_id`` goes, and the code's id becomes
        ``rf_erased`` in their attribution and in the staff-day counter it was counted under. Found by source
        channel (the customers the code created; one re-added through it is not found); returns how many changed."""
        tid, changed, cursor = tenant.tenant_id, 0, None
        for _ in range(10_000):
            page = self.repo.list_customers(tid, CustomerFilter(channel_id=channel_id), cursor=cursor, limit=100)
            changed += sum(1 for c in page.items if self._unlink(tenant, c.customer_id, channel_id))
            cursor = page.next_cursor
            if not cursor:
                break
        return changed

    def _unlink(self, tenant: Tenant, customer_id: str, channel_id: str) -> bool:
        def erased(ch: str) -> str:
            return ERASED_REFERRAL if ch == channel_id else ch

        for _ in range(3):
            c = self.repo.get_customer(tenant.tenant_id, customer_id)
            if c is None:
                return False
            counted = [t for t in c.touches if t.channel_id == channel_id]
            updated = replace(
                c,
                referrer_customer_id=None,
                source_channel_id=erased(c.source_channel_id) if c.source_channel_id else c.source_channel_id,
                touches=tuple(replace(t, channel_id=erased(t.channel_id)) for t in c.touches),
                updated_at=iso_of(self.clock.now(), tenant.zone),
                version=c.version + 1,
            )
            try:
                self.repo.save_customer(tenant.tenant_id, updated, expected_version=c.version)
            except ConflictError:
                continue
            for t in counted:  # the day's counter was written under the code's id (intake's c#<channel>)
                old, new = f"c#{channel_id}", f"c#{ERASED_REFERRAL}"
                self.repo.rename_counter(tenant.tenant_id, t.userid, t.at[:10], old, new)
            return True
        return False

    def _erase_sop(self, tenant_id: str, customer_id: str) -> tuple[int, int]:
        """The customer's touches and their id in staff tasks; returns (touches deleted, tasks changed).

        Buckets: those their timeline names (every sent or skipped touch), and every bucket of each plan version
        they were pinned to from their first enrollment into that plan on (the timeline keeps every run's start, the
        enrollment item only the last run's), which finds touches still scheduled."""
        items, _ = self.repo.timeline_items(tenant_id, customer_id, below=PREFIX + "~")
        entries = [e for i in items for e in i.entries]
        buckets = {e.detail["bucket"] for e in entries if e.type == "touch" and "bucket" in e.detail}
        since: dict[str, tuple[str, int]] = {}  # plan -> (earliest enrollment, highest version)
        runs = [(e.detail["plan_id"], e.at, int(e.detail["version"])) for e in entries if e.type == "enrolled"]
        runs += [(e.plan_id, e.enrolled_at, e.version) for e in self.repo.enrollments_of(tenant_id, customer_id)]
        for plan_id, at, version in runs:
            first, top = since.get(plan_id, (at, version))
            since[plan_id] = (min(first, at, key=lambda v: datetime.fromisoformat(v)), max(top, version))
        for plan_id, (at, top) in sorted(since.items()):
            key = utc_key(datetime.fromisoformat(at))
            minute = key[:4] + key[5:7] + key[8:10] + key[11:13] + key[14:16]
            for version in range(1, top + 1):
                buckets |= {
                    b.bucket_id for b in self.repo.plan_buckets(tenant_id, plan_id, version, from_minute=minute)
                }
        touches, task_ids = self.repo.erase_touches(tenant_id, customer_id, sorted(buckets))
        task_ids |= {
            follow_up_task_id(e.ref)
            for e in entries
            if e.type == "message" and e.detail.get("reply") == "positive" and e.ref
        }
        _, standings = self.repo.points_of(tenant_id, customer_id)  # their streak rewards' tasks
        task_ids |= {follow_up_task_id(key) for s in standings for key in s.rewards}
        task_ids |= {  # a hand-over reissued their open tasks to the new owner (services/handover_effects.py)
            reissued_task_id(str(e.detail.get("job_id", "")), str(t), customer_id)
            for e in entries
            if e.type == "handover"
            for t in e.detail.get("tasks") or []
        }
        task_ids |= {escalation_task_id(t) for t in task_ids}  # a lead's escalation task copies the recipients
        changed = sum(1 for t in sorted(task_ids) if self.repo.drop_recipient(tenant_id, t, customer_id))
        return touches, changed
