"""Link channels (获客链接): a channel whose code is a WeCom acquisition link, kept in sync with it.

Effectively once, across a crash between WeCom's create_link and our save:
1. the channel is stored first, *pending* (no link_id), with a conditional create;
2. then the link is created, named ``link_name(channel)`` (the channel id's suffix in it);
3. then the channel is saved with the link's id and URL (a conditional save on its version).
A failure in 2 deletes the pending channel (nothing stored); a failure in 3 deletes the link and the channel (as QR
channels delete their contact way). A crash after 2 leaves the pending channel and a link: the retry (same
Idempotency-Key, hence the same channel id: ``channel_id_for``) finds the pending channel, looks the link up by its
name (list_link + get) and adopts it instead of creating a second one.
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.acquisition import QuotaView, link_name
from chalicelib.domain.channels import Channel
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, SiyuError, WeComError, WeComInvalidArgumentError
from chalicelib.observability import logger
from chalicelib.ports import AcquisitionLink, ChannelRepository, WeComCredentials, WeComPort

MAX_LOOKUP_PAGES = 20  # list_link pages (100 ids each) searched for a lost link before creating one


def creds_of(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant_id=tenant.tenant_id, corp_id=tenant.corp_id, secret=tenant.wecom_secret)


def channel_id_for(tenant: Tenant, request_key: str) -> str:
    """The channel id a create with this Idempotency-Key gets: the same on every retry, never another tenant's."""
    return "ch_" + tenant.hmac_hex("channel-request:" + request_key, length=16)


class ChannelLinks:
    """The WeCom side of link channels: register (create, or resume a pending one), sync, remove, the quota."""

    def __init__(self, repo: ChannelRepository, wecom: WeComPort) -> None:
        self.repo = repo
        self.wecom = wecom

    def register(self, tenant: Tenant, channel: Channel) -> Channel:
        """Store the channel pending, create its link, store it done; a retry of a create that crashed resumes."""
        tid = tenant.tenant_id
        try:
            self.repo.create_channel(tid, channel)
        except ConflictError:
            existing = self.repo.get_channel(tid, channel.channel_id)
            if existing is None or existing.kind != "link":
                raise
            if existing.link_id:
                return existing  # done by an earlier attempt whose answer was lost
            return self._attach(tenant, existing, self._find(tenant, existing))
        try:
            link = self.wecom.create_link(
                creds_of(tenant),
                link_name=link_name(channel.name, channel.channel_id),
                userids=list(channel.assignment.userids),
            )
        except SiyuError:
            self.repo.delete_channel(tid, channel.channel_id)
            raise
        return self._attach(tenant, channel, link)

    def resume(self, tenant: Tenant, channel: Channel) -> Channel:
        """A pending link channel (its create crashed and was not retried): find or create its link now."""
        return self._attach(tenant, channel, self._find(tenant, channel))

    def _attach(self, tenant: Tenant, channel: Channel, link: AcquisitionLink | None) -> Channel:
        creds = creds_of(tenant)
        if link is None:
            name = link_name(channel.name, channel.channel_id)
            link = self.wecom.create_link(creds, link_name=name, userids=list(channel.assignment.userids))
        done = replace(channel, link_id=link.link_id, link_url=link.url, version=channel.version + 1)
        try:
            self.repo.put_channel(tenant.tenant_id, done, expected_version=channel.version)
        except ConflictError:  # a concurrent attempt attached first: its link stands, ours goes
            winner = self.repo.get_channel(tenant.tenant_id, channel.channel_id)
            if winner is None or not winner.link_id:
                self._drop(creds, link.link_id)
                raise
            if winner.link_id != link.link_id:
                self._drop(creds, link.link_id)
            return winner
        except SiyuError:
            self._drop(creds, link.link_id)
            self.repo.delete_channel(tenant.tenant_id, channel.channel_id)
            raise
        return done

    def _find(self, tenant: Tenant, channel: Channel) -> AcquisitionLink | None:
        """The link an interrupted attempt made for this channel, by its name among the app's live links."""
        port = self.wecom
        creds, name, cursor = creds_of(tenant), link_name(channel.name, channel.channel_id), ""
        for _ in range(MAX_LOOKUP_PAGES):
            ids, cursor = port.list_links(creds, cursor=cursor)
            for link_id in ids:
                link = port.get_link(creds, link_id)
                if link.link_name == name:
                    return link
            if not cursor:
                break
        return None

    def sync(self, tenant: Tenant, before: Channel, after: Channel) -> None:
        """Carry a change of staff or name to the link (its range and name)."""
        if not after.link_id:
            return
        staff_changed = before.assignment.userids != after.assignment.userids
        name = link_name(after.name, after.channel_id)
        if staff_changed or name != link_name(before.name, before.channel_id):
            self.wecom.update_link(
                creds_of(tenant), link_id=after.link_id, link_name=name, userids=list(after.assignment.userids)
            )

    def remove(self, tenant: Tenant, channel: Channel) -> None:
        if channel.link_id:
            self._drop(creds_of(tenant), channel.link_id)

    def _drop(self, creds: WeComCredentials, link_id: str) -> None:
        try:
            self.wecom.delete_link(creds, link_id=link_id)
        except WeComInvalidArgumentError:
            logger.info("acquisition link already gone at WeCom", extra={"link_id": link_id})

    def quota(self, tenant: Tenant) -> QuotaView | None:
        """The corp's quota, or None when WeCom does not tell (the secret may not call the API, WeCom is down):
        a page that shows it must not fail for it."""
        try:
            q = self.wecom.acquisition_quota(creds_of(tenant))
        except WeComError as exc:
            logger.warning("acquisition quota unavailable", extra={"code": exc.code})
            return None
        return QuotaView(q.total, q.balance, tuple((b.expire_date, b.balance) for b in q.batches))
