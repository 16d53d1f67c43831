"""Channel live codes (渠道活码), kept in sync with WeCom's contact ways (``add_contact_way`` scene 2)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from chalicelib.domain.acquisition import LINK, QuotaView, check_link_staff
from chalicelib.domain.channels import (
    Assignment,
    Channel,
    check_assignment,
    code_users,
    is_referral_of,
    legacy_referral_id,
)
from chalicelib.domain.instants import iso_of, local_date
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError, SiyuError, WeComInvalidArgumentError
from chalicelib.observability import logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    CustomerRepository,
    IdGenerator,
    Page,
    StaffRepository,
    WeComCredentials,
    WeComPort,
)
from chalicelib.services import posters
from chalicelib.services.channel_links import ChannelLinks, channel_id_for
from chalicelib.services.library import ItemSource, checked_message
from chalicelib.services.tags import TagService

PLAIN_FIELDS = ("name", "source", "campaign", "plan_id", "spend", "exposure")


class ChannelRepo(ChannelRepository, StaffRepository, CustomerRepository, ItemSource, Protocol):
    """What channel administration needs from storage."""

    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...

    def claim_referral_code(self, tenant_id: str, customer_id: str, channel_id: str) -> str: ...
    def referral_code_of(self, tenant_id: str, customer_id: str) -> str | None: ...


@dataclass(frozen=True)
class ChannelEditor:
    """What a channel's form offers: the channel (None for a new one), the active staff (its own first, in order),
    the plans it can start (not archived)."""

    channel: Channel | None
    staff: list[Staff]
    plans: list[tuple[str, str]]  # (plan_id, name) of plans a channel may trigger (not archived)


def _creds(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant_id=tenant.tenant_id, corp_id=tenant.corp_id, secret=tenant.wecom_secret)


def _assignment(data: dict[str, Any]) -> Assignment:
    return Assignment(
        mode=data.get("mode", "single"),
        userids=tuple(data.get("userids", [])),
        backup_userid=data.get("backup_userid"),
        daily_caps=dict(data.get("daily_caps") or {}),
    )


class ChannelService:
    def __init__(self, repo: ChannelRepo, tags: TagService, wecom: WeComPort, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.tags = tags
        self.wecom = wecom
        self.clock = clock
        self.ids = ids
        self.links = ChannelLinks(repo, wecom)

    def _today(self, tenant: Tenant) -> str:
        return local_date(self.clock.now().timestamp(), tenant.zone)

    def _active_staff(self, tenant_id: str) -> set[str]:
        return {s.userid for s in self.repo.list_staff(tenant_id) if s.active}

    def create(self, tenant: Tenant, data: dict[str, Any], request_key: str | None = None) -> Channel:
        """A QR channel (kind "standard") or an acquisition-link channel (kind "link"). ``request_key`` (the
        request's Idempotency-Key) makes a link channel's id the same on a retry, so a retry after a crash adopts
        the link the first attempt made (services/channel_links.py)."""
        kind = data.get("kind", "standard")
        assignment = _assignment(data["staff"])
        if kind == LINK:
            check_link_staff(assignment.mode, assignment.backup_userid, assignment.daily_caps)
        check_assignment(assignment, self._active_staff(tenant.tenant_id))
        now = iso_of(self.clock.now(), tenant.zone)
        channel = Channel(
            channel_id=channel_id_for(tenant, request_key) if kind == LINK and request_key else self.ids.new_id("ch_"),
            kind=kind,
            name=data["name"],
            source=data["source"],
            campaign=data.get("campaign", ""),
            assignment=assignment,
            welcome=checked_message(self.repo, tenant.tenant_id, data.get("welcome"), "/welcome"),
            tags=self.tags.resolve(tenant, data.get("tags", [])),
            plan_id=data.get("plan_id"),
            spend=data.get("spend"),
            exposure=data.get("exposure"),
            created_at=now,
            updated_at=now,
            version=1,
        )
        if kind == LINK:
            return self.links.register(tenant, channel)
        return self._register(tenant, channel)

    def _register(self, tenant: Tenant, channel: Channel) -> Channel:
        """Create the WeCom contact way, then store; if storing fails, remove the contact way again."""
        users = code_users(channel, None, self._today(tenant), frozenset())
        way = self.wecom.add_contact_way(_creds(tenant), users=users, state=channel.state, remark=channel.name[:30])
        channel = replace(channel, config_id=way.config_id, qr_code=way.qr_code)
        try:
            self.repo.create_channel(tenant.tenant_id, channel)
        except SiyuError:
            self.wecom.del_contact_way(_creds(tenant), config_id=way.config_id)
            raise
        return channel

    def get(self, tenant_id: str, channel_id: str) -> Channel:
        channel = self.repo.get_channel(tenant_id, channel_id)
        if channel is None:
            raise NotFoundError(f"channel {channel_id} does not exist")
        return channel

    def list(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page:
        """``standard`` lists every ad channel (QR and link); ``link`` only the link channels (of the same page of
        channels, so a page may hold fewer than ``limit``); ``referral`` the referral codes."""
        if kind != LINK:
            return self.repo.list_channels(tenant_id, kind=kind, cursor=cursor, limit=limit)
        page = self.repo.list_channels(tenant_id, kind="standard", cursor=cursor, limit=limit)
        return Page([c for c in page.items if c.kind == LINK], page.next_cursor)

    def update(self, tenant: Tenant, channel_id: str, data: dict[str, Any]) -> Channel:
        channel = self.get(tenant.tenant_id, channel_id)
        changes: dict[str, Any] = {name: data[name] for name in PLAIN_FIELDS if name in data}
        if "staff" in data:
            changes["assignment"] = _assignment(data["staff"])
            if channel.kind == LINK:
                a = changes["assignment"]
                check_link_staff(a.mode, a.backup_userid, a.daily_caps)
            check_assignment(changes["assignment"], self._active_staff(tenant.tenant_id))
        if "welcome" in data:
            changes["welcome"] = checked_message(self.repo, tenant.tenant_id, data["welcome"], "/welcome")
        if "tags" in data:
            changes["tags"] = self.tags.resolve(tenant, data["tags"])
        updated = replace(
            channel, **changes, updated_at=iso_of(self.clock.now(), tenant.zone), version=channel.version + 1
        )
        if channel.kind == LINK:
            if not channel.link_id:  # its create was interrupted: finish it with the new values
                self.repo.put_channel(tenant.tenant_id, updated, expected_version=channel.version)
                return self.links.resume(tenant, updated)
            self.links.sync(tenant, channel, updated)
        elif "staff" in data or updated.name[:30] != channel.name[:30]:
            today = self._today(tenant)
            users = code_users(updated, None, today, updated.full_today(today))
            self.wecom.update_contact_way(
                _creds(tenant), config_id=channel.config_id, users=users, state=channel.state, remark=updated.name[:30]
            )
        self.repo.put_channel(tenant.tenant_id, updated, expected_version=channel.version)
        return updated

    def delete(self, tenant: Tenant, channel_id: str) -> None:
        channel = self.get(tenant.tenant_id, channel_id)
        self.links.remove(tenant, channel)
        if channel.config_id:
            try:
                self.wecom.del_contact_way(_creds(tenant), config_id=channel.config_id)
            except WeComInvalidArgumentError:
                logger.info("contact way already gone at WeCom", extra={"channel_id": channel_id})
        self.repo.delete_channel(tenant.tenant_id, channel_id)

    def editor(self, tenant_id: str, channel_id: str | None = None) -> ChannelEditor:
        """The channel's form: the channel itself, whom it can assign, which plans it can start."""
        channel = self.get(tenant_id, channel_id) if channel_id else None
        staff = [s for s in self.repo.list_staff(tenant_id) if s.active]
        if channel is not None:  # the channel's own staff first, in its round-robin order: the form keeps it
            order = {u: i for i, u in enumerate(channel.assignment.userids)}
            staff.sort(key=lambda s: order.get(s.userid, len(order)))
        plans = self.repo.list_plans(tenant_id, status=None, cursor=None, limit=100).items
        live = [(p.plan_id, p.name) for p in plans if p.status.value != "archived"]
        return ChannelEditor(channel, staff, live)

    def quota(self, tenant: Tenant) -> QuotaView | None:
        """The corp's acquisition-link quota (获客额度) with its warning; None when WeCom does not tell."""
        return self.links.quota(tenant)

    def poster(self, tenant_id: str, channel_id: str) -> bytes:
        """The channel's printable poster (PNG): its WeCom QR image with the channel's name. A link channel has
        none: its URL is what goes into ads."""
        channel = self.get(tenant_id, channel_id)
        if channel.kind == LINK:
            raise InvalidError("an acquisition-link channel has no QR poster: hand out its url")
        qr = self.wecom.qr_image(channel.qr_code)
        return posters.render_poster(qr, channel.name, font_path=posters.cjk_font())

    def referral_for(self, tenant: Tenant, customer_id: str, data: dict[str, Any]) -> Channel:
        """The customer's own referral code (老带新), one per customer.

        Its id is random, so the records of the people it brings (attribution, facts, day counters) hold only the
        code; the customer → code link lives in the customer's own partition and on the code, both erased with
        them. The first call claims an id there with a conditional put; every call until the code exists
        registers that same id, and the channel's own conditional create keeps one."""
        tid = tenant.tenant_id
        claimed = self.repo.referral_code_of(tid, customer_id)
        for code_id in [claimed] if claimed else [legacy_referral_id(customer_id)]:  # a legacy code stays theirs
            existing = self.repo.get_channel(tid, code_id)
            if existing is not None and is_referral_of(existing, customer_id):
                return existing
        customer = self.repo.get_customer(tid, customer_id)
        if customer is None:
            raise NotFoundError(f"customer {customer_id} does not exist")
        if not customer.active_relations:
            raise InvalidError("the customer has no active relation with staff; a referral code needs one")
        channel_id = claimed or self.repo.claim_referral_code(tid, customer_id, self.ids.new_id("rf_"))
        now = iso_of(self.clock.now(), tenant.zone)
        channel = Channel(
            channel_id=channel_id,
            name=data.get("name") or f"老带新-{customer_id}",
            source="referral",
            campaign=data.get("campaign", ""),
            kind="referral",
            referrer_customer_id=customer_id,
            assignment=Assignment(mode="single", userids=(customer.owner_userid,)),
            welcome=checked_message(self.repo, tenant.tenant_id, data.get("welcome"), "/welcome"),
            tags=self.tags.resolve(tenant, data.get("tags") or [{"group": "流量平台来源", "name": "老带新"}]),
            created_at=now,
            updated_at=now,
            version=1,
        )
        try:
            return self._register(tenant, channel)
        except ConflictError:  # a concurrent first call registered the claimed id first: its code is the one
            winner = self.repo.get_channel(tid, channel_id)
            if winner is None:
                raise
            return winner
