"""Writing a group's members: the records, their history (once each), the signals, the customer links.

Shared by the callbacks (services/groups/events.py) and the sync (services/groups/sync.py). Order of writes: the
history entry first (a conditional put: only its first writer publishes the signal), then the member records, then
(by the caller) the group's state under its revision, and only then the signals, so a subscriber reads the member
count that includes the change. A crash before the state is saved leaves the event
un-applied, so WeCom's redelivery, the repair queue or the next sync does it again, and writes nothing twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chalicelib.domain.customers import customer_id_for
from chalicelib.domain.group_events import UNKNOWN_SCENE, remember
from chalicelib.domain.group_members import (
    EXTERNAL_MEMBER,
    JOIN,
    STAFF_MEMBER,
    FetchedMember,
    GroupMember,
    MemberChange,
    erased,
    reconcile,
)
from chalicelib.domain.groups import ACTIVE, Group, GroupState
from chalicelib.domain.signals import GROUP_JOIN_WAY, GROUP_JOINED, GROUP_LEFT, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError
from chalicelib.observability import count, logger
from chalicelib.ports import SignalPublisher
from chalicelib.services.groups.ports import ChatDetail, GroupStore

MEMBER_PAGE = 500
SAVE_ATTEMPTS = 3


def member_key(tenant: Tenant, userid: str) -> str:
    """The member's key in every group: the digest intake gives an external_userid, for staff alike."""
    return tenant.hmac_hex("ext:" + userid)


class MemberBook:
    def __init__(self, repo: GroupStore, signals: SignalPublisher) -> None:
        self.repo = repo
        self.signals = signals

    def stored(self, tenant_id: str, chat_id: str) -> dict[str, GroupMember]:
        """Every member record of the group (current and former), by key."""
        found: dict[str, GroupMember] = {}
        cursor: str | None = None
        while True:
            page = self.repo.list_members(tenant_id, chat_id, cursor=cursor, limit=MEMBER_PAGE)
            found.update((m.key, m) for m in page.items)
            cursor = page.next_cursor
            if not cursor:
                return found

    def member_types(self, tenant: Tenant, userids: tuple[str, ...]) -> dict[str, int]:
        """A callback does not say who is staff: those the tenant registered are (one Query of its staff);
        groupchat/get corrects the rest at the group's next read."""
        staff = {s.userid for s in self.repo.list_staff(tenant.tenant_id)} if userids else set()
        return {u: STAFF_MEMBER if u in staff else EXTERNAL_MEMBER for u in userids}

    def link(self, tenant: Tenant, members: list[GroupMember], *, aliases: bool = True) -> list[GroupMember]:
        """External members with their customer record where one exists (found as intake finds it: the id derived
        from the member's digest, then, with ``aliases``, the ``ext`` alias of a contact merged into another
        customer: one read per member not found, so the sync's re-linking of every unlinked member skips it)."""
        wanted = [m for m in members if m.type == EXTERNAL_MEMBER and not m.customer_id and not m.erased]
        if not wanted:
            return members
        derived = {m.key: customer_id_for(m.key) for m in wanted}
        found = self.repo.get_customers(tenant.tenant_id, sorted(set(derived.values())))
        linked: dict[str, str] = {}
        for m in wanted:
            if derived[m.key] in found:
                linked[m.key] = derived[m.key]
                continue
            if not aliases:
                continue
            alias = self.repo.find_alias(tenant.tenant_id, "ext", m.key)
            if alias is not None and alias.customer_id:
                linked[m.key] = alias.customer_id
        return [replace(m, customer_id=linked[m.key]) if m.key in linked else m for m in members]

    def write(
        self, tenant: Tenant, chat_id: str, members: list[GroupMember], history: list[MemberChange]
    ) -> list[MemberChange]:
        """History first (each entry once), then the records. Returns the entries that were new: the caller tells
        them (``announce``) once the group's state is saved, so a subscriber reading the group (a code's rotation,
        the members-per-day counter) sees the member count that includes them."""
        tid = tenant.tenant_id
        links = {m.key: m.customer_id for m in members}
        new: list[MemberChange] = []
        for change in history:
            change = replace(change, customer_id=links.get(change.member_key, change.customer_id))
            if self.repo.add_member_change(tid, chat_id, change):
                new.append(change)  # else replayed: written and told before
        if members:
            self.repo.put_members(tid, chat_id, members)
        return new

    def announce(self, tenant: Tenant, chat_id: str, changes: list[MemberChange]) -> None:
        """Tell each new entry, by its first writer only (whether or not its state save won: a lost race still
        wrote the entry, and nobody else will tell it)."""
        for change in changes:
            self._publish(tenant, chat_id, change)

    def _publish(self, tenant: Tenant, chat_id: str, change: MemberChange) -> None:
        kind = GROUP_JOINED if change.kind == JOIN else GROUP_LEFT
        scene = "unknown" if change.scene == UNKNOWN_SCENE else str(change.scene)
        at = datetime.fromtimestamp(change.at, UTC)
        member, ref, way = change.userid or None, change.ref(chat_id), change.state or None
        signal = Signal(kind, at, kind=scene, chat_id=chat_id, member=member, ref=ref, channel_id=way)
        self.signals.publish(tenant, chat_id, signal)
        count(f"Group.{change.kind}")

    def enrich(self, tenant: Tenant, detail: ChatDetail, userids: list[str]) -> dict[str, str]:
        """What only a group read tells of ``userids`` (who just joined): the join way's ``state`` (the channel
        they came through), the inviter and WeCom's join scene, written on their records alone. A join must not
        cost a read of every member: the version chain already vouched for the rest. Returns the join-way states
        read, by member key, for the join's signal to carry (its count toward a group code)."""
        tid, chat_id = tenant.tenant_id, detail.chat_id
        wanted = {member_key(tenant, u) for u in userids}
        fetched = {key: m for m in detail.members if (key := member_key(tenant, m.userid)) in wanted}
        stored = self.repo.get_members(tid, chat_id, sorted(fetched))
        changed = [
            replace(record, state=m.state, invitor=m.invitor, fetched_scene=m.join_scene)
            for key, m in fetched.items()
            if (record := stored.get(key)) is not None
            and record.in_group
            and (record.state, record.invitor, record.fetched_scene) != (m.state, m.invitor, m.join_scene)
        ]
        if changed:
            self.repo.put_members(tid, chat_id, changed)
        return {key: m.state for key, m in fetched.items() if m.state}

    def reconcile(self, tenant: Tenant, detail: ChatDetail, *, now: int, stamp: bool = False) -> bool:
        """Move the group and its members to ``detail`` (groupchat/get); True if anything changed. Members not yet
        linked to a customer are linked here when the customer exists by now (the sync links late joiners).
        ``stamp``: set ``synced_at`` even when nothing changed (the sync's mark of a group WeCom still lists)."""
        tid, chat_id = tenant.tenant_id, detail.chat_id
        truth = [
            FetchedMember(
                key=member_key(tenant, m.userid),
                userid=m.userid,
                type=m.type,
                join_time=m.join_time,
                join_scene=m.join_scene,
                invitor=m.invitor,
                state=m.state,
            )
            for m in detail.members
        ]
        for _ in range(SAVE_ATTEMPTS):
            group = self.repo.get_group(tid, chat_id, consistent=True)
            before = group.state if group is not None else GroupState()
            stored = self.stored(tid, chat_id)
            members, history = reconcile(stored, truth, now=now)
            touched = {m.key for m in members}
            unlinked = [m for m in stored.values() if m.in_group and not m.customer_id and m.key not in touched]
            relinked = [m for m in self.link(tenant, unlinked, aliases=False) if m.customer_id]
            members = self.link(tenant, members) + relinked
            state = replace(
                before,
                name=detail.name,
                owner=detail.owner,
                notice=detail.notice,
                status=ACTIVE,
                created_at=detail.create_time or before.created_at,
                admins=tuple(detail.admins),
                member_count=len(truth),
                member_version=detail.member_version,
                seen_versions=remember(before.seen_versions, detail.member_version),
                synced_at=before.synced_at,
            )
            new = self.write(tenant, chat_id, members, history)
            ways = [m for m in members if (b := stored.get(m.key)) and b.in_group and not b.state and m.state]
            changed = bool(members) or state != before or before.rev == 0
            if not changed and (not stamp or before.synced_at >= now):
                self.announce(tenant, chat_id, new)
                return False
            saved = self.repo.save_group_state(tid, chat_id, replace(state, synced_at=now), expected_rev=before.rev)
            self.announce(tenant, chat_id, new)
            self._ways(tenant, chat_id, ways)
            if saved:
                if changed:
                    logger.info("group reconciled", extra={"tenant": tid, "chat_id": chat_id, "members": len(members)})
                return changed
        return True  # others kept writing: what they wrote is at least as new; the next sync settles the rest

    def _ways(self, tenant: Tenant, chat_id: str, members: list[GroupMember]) -> None:
        """Joins told before their join way was known (the callback's re-read was deferred or lost a race): the
        way now, under the join's own ref, so its count toward a group code is made once (services/group_facts)."""
        for m in members:
            if not m.join_time:
                continue
            ref = MemberChange(m.key, JOIN, m.join_time).ref(chat_id)
            at = datetime.fromtimestamp(m.join_time, UTC)
            way = Signal(GROUP_JOIN_WAY, at, chat_id=chat_id, member=m.userid or None, ref=ref, channel_id=m.state)
            self.signals.publish(tenant, chat_id, way)

    def erase(self, tenant: Tenant, external_userids: tuple[str, ...]) -> int:
        """Make the customer's member records and history anonymous in every group they were in, and take them off
        the KOLs ops marked in any group's setup."""
        changed = 0
        for ext in external_userids:
            key = member_key(tenant, ext)
            for chat_id in self.repo.member_chats(tenant.tenant_id, key):
                changed += self.repo.erase_group_member(tenant.tenant_id, chat_id, key)
        return changed + self._unmark_kols(tenant.tenant_id, set(external_userids))

    def _unmark_kols(self, tenant_id: str, external_userids: set[str]) -> int:
        """Every group whose setup names one of ``external_userids`` as a KOL, without them (each under the setup's
        revision: an edit meanwhile is re-read). Pages through the tenant's groups: erasure is rare, KOLs are few."""
        if not external_userids:
            return 0
        changed, cursor = 0, None
        while True:
            page = self.repo.list_groups(tenant_id, cursor=cursor, limit=100)
            for group in page.items:
                changed += self._unmark(tenant_id, group, external_userids)
            cursor = page.next_cursor
            if not cursor:
                return changed

    def _unmark(self, tenant_id: str, group: Group, external_userids: set[str]) -> int:
        for _ in range(SAVE_ATTEMPTS):
            kols = tuple(k for k in group.setup.kols if k not in external_userids)
            if kols == group.setup.kols:
                return 0
            setup = replace(group.setup, kols=kols)
            if self.repo.save_group_setup(tenant_id, group.chat_id, setup, expected_rev=group.setup.rev):
                return 1
            fresh = self.repo.get_group(tenant_id, group.chat_id, consistent=True)
            if fresh is None:
                return 0
            group = fresh
        raise ConflictError("the group's setup kept changing during an erasure; retry the erasure")


__all__ = ["MemberBook", "erased", "member_key"]
