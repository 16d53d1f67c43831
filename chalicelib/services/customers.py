"""Customer reads, manual tagging and erasure (PIPL)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.clock import iso_of
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.tags import apply_tags
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, SiyuError
from chalicelib.observability import logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    CustomerFilter,
    CustomerRepository,
    Page,
    TagRepository,
    WeComCredentials,
    WeComPort,
)

TIMELINE_LIMIT = 100


class CustomerRepo(CustomerRepository, TagRepository, ChannelRepository, Protocol):
    """What customer administration needs from storage."""


class CustomerService:
    def __init__(self, repo: CustomerRepo, wecom: WeComPort, clock: Clock, triggers: Any | None = None) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.triggers = triggers  # the SOP lifecycle: plans triggered by a tag enroll the customer

    def find(
        self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int, only_owner: str | None = None
    ) -> Page:
        """Customers, newest first. A staff token sees only the customers it owns."""
        if only_owner:
            if flt.owner_userid and flt.owner_userid != only_owner:
                raise ForbiddenError("a staff token lists only its own customers")
            flt = replace(flt, owner_userid=only_owner)
        return self.repo.list_customers(tenant_id, flt, cursor=cursor, limit=limit)

    def get(self, tenant_id: str, customer_id: str, *, only_owner: str | None = None) -> Customer:
        customer = self.repo.get_customer(tenant_id, customer_id)
        if customer is None or (only_owner and customer.owner_userid != only_owner):
            raise NotFoundError(f"customer {customer_id} does not exist")
        return customer

    def detail(self, tenant_id: str, customer_id: str, *, only_owner: str | None = None) -> dict[str, Any]:
        """Profile, tags with names, channel touches and the timeline (newest first)."""
        customer = self.get(tenant_id, customer_id, only_owner=only_owner)
        taxonomy = self.repo.taxonomy(tenant_id)
        names = {
            t.tag_id: {"tag_id": t.tag_id, "group": g.name, "name": t.name} for g in taxonomy.groups for t in g.tags
        }
        body = customer.public()
        body["tag_details"] = [names.get(t, {"tag_id": t, "group": None, "name": None}) for t in sorted(customer.tags)]
        body["timeline"] = [f.public() for f in self.repo.timeline(tenant_id, customer_id, limit=TIMELINE_LIMIT)]
        return body

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
            if added and self.triggers is not None:
                try:
                    self.triggers.on_tags_added(tenant, customer_id, added)
                except SiyuError as exc:
                    logger.warning("tag trigger failed", extra={"code": exc.code})
            return updated
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
        """Erase a customer's personal data everywhere Siyu stores it (profile, facts, identity aliases, referral
        code). Tombstones without any identifier stop WeCom's late retries from re-creating the record; the
        day counters, which hold no personal data, stay as anonymous aggregates."""
        customer = self.get(tenant.tenant_id, customer_id)
        erased_at = int(self.clock.now().timestamp())
        refs = {tuple(ref.split(":", 1)) for ref in customer.aliases}
        refs |= {("ext", tenant.hmac_hex("ext:" + ext)) for ext in customer.external_userids}
        tombstones = [Alias(kind, digest, "", erased_at) for kind, digest in sorted(refs)]
        referral = self.repo.get_channel(tenant.tenant_id, "rf_" + customer_id[1:])
        if referral is not None:
            try:
                if referral.config_id:
                    creds = WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
                    self.wecom.del_contact_way(creds, config_id=referral.config_id)
            except SiyuError as exc:
                logger.warning("referral contact way not removed at WeCom", extra={"code": exc.code})
            self.repo.delete_channel(tenant.tenant_id, referral.channel_id)
        deleted = self.repo.erase_customer(tenant.tenant_id, customer_id, tombstones=tombstones)
        logger.info("customer erased", extra={"tenant": tenant.tenant_id, "items": deleted})
        return {
            "customer_id": customer_id,
            "erased": True,
            "items_deleted": deleted,
            "referral_channel_deleted": referral is not None,
        }
