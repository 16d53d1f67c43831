"""``change_external_chat`` as WeCom delivers it (page 92130), and how its member versions order it. Pure.

WeCom promises no order and sends duplicates, so a membership change (``update`` with ``add_member`` or
``del_member``) carries LastMemVer (the members' version before it) and CurMemVer (after it). Versions are opaque
strings, not counters: one can only tell "the version we hold", "a version we applied lately" and "anything else".
So an update whose LastMemVer is the version held applies on top of it; one whose CurMemVer was held or applied is a
duplicate; anything else (a gap, an older delivery, a list shorter than MemChangeCnt) is answered by reading the
group as it is now (``groupchat/get``) and reconciling to it. Create and the owner, name and notice changes carry no
new values at all: they are answered by that read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.groups import GroupState
from chalicelib.errors import InvalidError

EVENT = "change_external_chat"
CREATE, DISMISS, UPDATE = "create", "dismiss", "update"
ADD_MEMBER, DEL_MEMBER = "add_member", "del_member"
CHANGE_OWNER, CHANGE_NAME, CHANGE_NOTICE = "change_owner", "change_name", "change_notice"
MEMBERSHIP = frozenset({ADD_MEMBER, DEL_MEMBER})
DETAILS = frozenset({CHANGE_OWNER, CHANGE_NAME, CHANGE_NOTICE})
UNKNOWN_SCENE = -1  # a join or leave whose scene nobody told us (found by a sync, or absent from the event)
SEEN_VERSIONS = 16  # member versions a group remembers as applied: a late duplicate among them costs no re-fetch

APPLY, DUPLICATE, REFETCH = "apply", "duplicate", "refetch"


@dataclass(frozen=True)
class GroupEvent:
    """One decrypted ``change_external_chat``. ``members``: MemChangeList (either of its two forms)."""

    chat_id: str
    change_type: str
    update_detail: str = ""
    create_time: int = 0
    join_scene: int = UNKNOWN_SCENE
    quit_scene: int = UNKNOWN_SCENE
    mem_change_cnt: int = 0
    members: tuple[str, ...] = ()
    last_version: str = ""
    current_version: str = ""

    @property
    def membership(self) -> bool:
        return self.change_type == UPDATE and self.update_detail in MEMBERSHIP

    @property
    def complete(self) -> bool:
        """Whether MemChangeList names every changed member (MemChangeCnt, when given, says how many)."""
        return bool(self.members) and len(set(self.members)) >= self.mem_change_cnt


def is_group_event(fields: Mapping[str, Any]) -> bool:
    return fields.get("Event") == EVENT


def _int(fields: Mapping[str, Any], name: str, default: int) -> int:
    value = fields.get(name)
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise InvalidError(f"{name} must be an integer") from exc


def group_event_from_fields(fields: Mapping[str, Any]) -> GroupEvent:
    """The event from the callback's flattened fields (adapters/wecom/callback_xml.py); InvalidError if it names no
    group or carries a malformed number."""
    chat_id = str(fields.get("ChatId") or "").strip()
    if not chat_id:
        raise InvalidError("change_external_chat without ChatId")
    raw_members = fields.get("MemChangeList") or []
    if isinstance(raw_members, str):  # a caller that did not go through the XML parser: the comma form
        raw_members = raw_members.split(",")
    members = tuple(dict.fromkeys(str(m).strip() for m in raw_members if str(m).strip()))
    return GroupEvent(
        chat_id=chat_id,
        change_type=str(fields.get("ChangeType") or ""),
        update_detail=str(fields.get("UpdateDetail") or ""),
        create_time=_int(fields, "CreateTime", 0),
        join_scene=_int(fields, "JoinScene", UNKNOWN_SCENE),
        quit_scene=_int(fields, "QuitScene", UNKNOWN_SCENE),
        mem_change_cnt=_int(fields, "MemChangeCnt", 0),
        members=members,
        last_version=str(fields.get("LastMemVer") or ""),
        current_version=str(fields.get("CurMemVer") or ""),
    )


def version_decision(state: GroupState, ev: GroupEvent) -> str:
    """APPLY a membership change on top of ``state``, drop it as a DUPLICATE, or REFETCH the group (see above)."""
    known = state.rev > 0
    cur, last = ev.current_version, ev.last_version
    if known and cur and (cur == state.member_version or cur in state.seen_versions):
        return DUPLICATE
    if known and cur and last and last == state.member_version and ev.complete:
        return APPLY
    return REFETCH


def remember(seen: tuple[str, ...], version: str) -> tuple[str, ...]:
    """``seen`` with ``version`` last, the oldest dropped past SEEN_VERSIONS."""
    if not version:
        return seen
    kept = (*(v for v in seen if v != version), version)
    return kept[-SEEN_VERSIONS:]
