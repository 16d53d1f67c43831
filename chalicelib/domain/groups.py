"""Customer groups (客户群, 社群): what WeCom says a group is, and what ops say it is for. Pure.

A group is two records on one item, each with its own revision, so the two writers never clobber each other:
- ``GroupState``: WeCom's truth (name, owner, notice, admins, members' count and version, dismissed or not), kept by
  the ``change_external_chat`` callbacks and the periodic sync;
- ``GroupSetup``: ops' intent (type by purpose, cohort 期 and its start date, number 编号, KOLs, campaign, tags),
  edited through ``/t/{tenant}/groups``.
The group's SOP subject is ``Subject(GROUP, chat_id)`` (domain/sop.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Types by purpose (domain.md "Groups"): the stored code and the field's own name for it.
GROUP_TYPES: dict[str, str] = {
    "acquisition": "引流",
    "activation": "促活",
    "study": "学习",
    "sales": "营销",
    "service": "服务",
}
ACTIVE, DISMISSED = "active", "dismissed"
STAFF_MEMBER, EXTERNAL_MEMBER = 1, 2  # groupchat/get's member type
MAX_KOLS = 50
MAX_GROUP_TAGS = 20
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class GroupState:
    """What WeCom says about the group. ``rev`` is the write condition of this half of the item."""

    name: str = ""
    owner: str = ""  # the 群主's userid
    notice: str = ""
    status: str = ACTIVE
    created_at: int = 0  # unix seconds (WeCom's create_time)
    admins: tuple[str, ...] = ()
    member_count: int = 0  # members in the group now, staff included
    member_version: str = ""  # WeCom's member version (CurMemVer / member_version): the last one applied
    synced_at: int = 0  # unix seconds of the last groupchat/get that set this state (0: callbacks only)
    seen_versions: tuple[str, ...] = ()  # member versions applied lately (domain/group_events.py: duplicates)
    rev: int = 0


@dataclass(frozen=True)
class GroupSetup:
    """What ops say the group is for. ``rev`` is the write condition of this half of the item."""

    type: str | None = None  # a GROUP_TYPES key
    cohort: str | None = None  # 期, e.g. "3期"
    cohort_start: str | None = None  # YYYY-MM-DD in the tenant's zone: day 0 of the cohort's camp calendar
    number: str | None = None  # 编号, e.g. "02"
    kols: tuple[str, ...] = ()  # members ops marked as KOLs (userids or external_userids)
    campaign: str | None = None
    tags: tuple[str, ...] = ()  # ops' own labels, for targeting group plans
    rev: int = 0


@dataclass(frozen=True)
class Group:
    chat_id: str
    state: GroupState = field(default_factory=GroupState)
    setup: GroupSetup = field(default_factory=GroupSetup)

    @property
    def known_to_wecom(self) -> bool:
        """Whether a callback or a sync has told us about it (ops may set a group up first)."""
        return self.state.rev > 0

    @property
    def active(self) -> bool:
        return self.known_to_wecom and self.state.status == ACTIVE


def setup_problems(setup: GroupSetup) -> list[tuple[str, str]]:
    """(field, message) for each invalid field of a setup; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    if setup.type is not None and setup.type not in GROUP_TYPES:
        problems.append(("type", f"must be one of {', '.join(GROUP_TYPES)}"))
    if setup.cohort_start is not None and not _DATE.match(setup.cohort_start):
        problems.append(("cohort_start", "must be a date YYYY-MM-DD"))
    if len(setup.kols) > MAX_KOLS:
        problems.append(("kols", f"at most {MAX_KOLS}"))
    if len(setup.tags) > MAX_GROUP_TAGS:
        problems.append(("tags", f"at most {MAX_GROUP_TAGS}"))
    return problems
