"""A customer group's members and their join/leave history, and how a change or WeCom's truth moves them. Pure.

Each member has one current record per group (in the group now or not, how and when they joined, when and how they
left) and an append-only history with one entry per join and per leave. A history entry's key is its member, kind and
time, so a replayed change writes nothing new, and its ``ref`` is the identity the GROUP_JOINED / GROUP_LEFT signal
carries. Staff (type 1) and external contacts (type 2) are told apart by ``type``; an external member who is a
customer names their customer record (``customer_id``). ``key`` is a tenant-keyed digest of the member's userid
(the one intake uses for an external_userid), so records are found again without the id, which erasure removes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from chalicelib.domain.group_events import UNKNOWN_SCENE
from chalicelib.domain.groups import EXTERNAL_MEMBER, STAFF_MEMBER

JOIN, LEAVE = "join", "leave"
__all__ = ["EXTERNAL_MEMBER", "JOIN", "LEAVE", "STAFF_MEMBER", "FetchedMember", "GroupMember", "MemberChange"]


@dataclass(frozen=True)
class GroupMember:
    """A member's current record in one group."""

    key: str
    userid: str = ""  # the staff userid or external_userid; "" once the member is erased
    type: int = EXTERNAL_MEMBER
    in_group: bool = True
    join_time: int = 0  # unix seconds
    join_scene: int = UNKNOWN_SCENE  # the callback's JoinScene (0 invited by a member or link, 3 scanned the QR)
    fetched_scene: int = 0  # groupchat/get's join_scene (1 direct, 2 link, 3 QR); 0 unknown
    state: str = ""  # the join way's state: the channel the member came through
    invitor: str = ""  # the staff userid that invited them, as groupchat/get tells it
    left_time: int = 0
    quit_scene: int = UNKNOWN_SCENE  # QuitScene (0 left, 1 removed by the owner or an admin)
    customer_id: str = ""  # the customer record of an external member ("" until one is known)
    erased: bool = False  # the customer was erased: the record keeps no identifier, and a sync never restores one

    @property
    def is_staff(self) -> bool:
        return self.type == STAFF_MEMBER


@dataclass(frozen=True)
class MemberChange:
    """One join or leave, written once (its key: member, kind, time)."""

    member_key: str
    kind: str  # JOIN | LEAVE
    at: int  # unix seconds: the callback's CreateTime, the member's join_time, or the sync that found a leave
    scene: int = UNKNOWN_SCENE  # JoinScene or QuitScene; UNKNOWN_SCENE when a sync found what callbacks missed
    userid: str = ""
    type: int = EXTERNAL_MEMBER
    state: str = ""
    invitor: str = ""
    customer_id: str = ""

    def ref(self, chat_id: str) -> str:
        """The change's identity: the same join or leave, however often it is seen, has the same ref."""
        return f"{chat_id}:{self.kind}:{self.member_key}:{self.at}"


@dataclass(frozen=True)
class FetchedMember:
    """A member as ``groupchat/get`` lists it, with its key."""

    key: str
    userid: str
    type: int
    join_time: int = 0
    join_scene: int = 0
    invitor: str = ""
    state: str = ""


Changes = tuple[list[GroupMember], list[MemberChange]]


def _change(member: GroupMember, kind: str, at: int, scene: int) -> MemberChange:
    return MemberChange(
        member_key=member.key,
        kind=kind,
        at=at,
        scene=scene,
        userid=member.userid,
        type=member.type,
        state=member.state,
        invitor=member.invitor,
        customer_id=member.customer_id,
    )


def joins(
    stored: Mapping[str, GroupMember], arrivals: Iterable[tuple[str, str, int]], *, at: int, scene: int
) -> Changes:
    """Members (key, userid, type) who joined at ``at`` by ``scene``: records to write and history to add. One who
    is in the group already changes nothing."""
    members, history = [], []
    for key, userid, kind in arrivals:
        before = stored.get(key)
        if before is not None and before.in_group:
            continue
        member = GroupMember(key=key, userid=userid, type=kind, join_time=at, join_scene=scene)
        if before is not None:  # a member coming back: the same record, its leave cleared, its erasure kept
            member = replace(
                before, in_group=True, join_time=at, join_scene=scene, left_time=0, quit_scene=UNKNOWN_SCENE
            )
        members.append(member)
        history.append(_change(member, JOIN, at, scene))
    return members, history


def leaves(stored: Mapping[str, GroupMember], departures: Iterable[str], *, at: int, scene: int) -> Changes:
    """Members (by key) who left at ``at`` by ``scene``. One not in the group, or unknown, changes nothing: a
    leave of someone never seen joining is found by the next sync instead (it has no record to close)."""
    members, history = [], []
    for key in departures:
        before = stored.get(key)
        if before is None or not before.in_group:
            continue
        member = replace(before, in_group=False, left_time=at, quit_scene=scene)
        members.append(member)
        history.append(_change(member, LEAVE, at, scene))
    return members, history


def reconcile(stored: Mapping[str, GroupMember], truth: Iterable[FetchedMember], *, now: int) -> Changes:
    """Move ``stored`` (every record of the group) to WeCom's member list: who is missing joined (at their
    join_time, scene unknown), who is gone left (now, scene unknown), and who stays gets WeCom's details (type,
    join way, inviter) without a history entry. An erased member's record never gets an identifier back."""
    members, history = [], []
    present: set[str] = set()
    for fetched in truth:
        present.add(fetched.key)
        before = stored.get(fetched.key)
        at = fetched.join_time or now
        if before is None or not before.in_group:
            base = before or GroupMember(key=fetched.key)
            member = replace(
                base,
                userid="" if base.erased else fetched.userid,
                type=fetched.type,
                in_group=True,
                join_time=at,
                join_scene=UNKNOWN_SCENE,
                fetched_scene=fetched.join_scene,
                state=fetched.state,
                invitor=fetched.invitor,
                left_time=0,
                quit_scene=UNKNOWN_SCENE,
            )
            members.append(member)
            history.append(_change(member, JOIN, at, UNKNOWN_SCENE))
            continue
        detailed = replace(
            before,
            userid=before.userid if before.erased else fetched.userid,
            type=fetched.type,
            join_time=before.join_time or at,
            fetched_scene=fetched.join_scene,
            state=fetched.state or before.state,
            invitor=fetched.invitor or before.invitor,
        )
        if detailed != before:
            members.append(detailed)
    for key in sorted(stored):
        before = stored[key]
        if before.in_group and key not in present:
            gone = replace(before, in_group=False, left_time=now, quit_scene=UNKNOWN_SCENE)
            members.append(gone)
            history.append(_change(gone, LEAVE, now, UNKNOWN_SCENE))
    return members, history


def erased(member: GroupMember) -> GroupMember:
    """The record with no identifier left: no userid, no customer link."""
    return replace(member, userid="", customer_id="", erased=True)


def erased_change(change: MemberChange) -> MemberChange:
    return replace(change, userid="", customer_id="")
