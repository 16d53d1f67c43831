"""Group live codes (群活码) kept in sync with WeCom's join ways (``groupchat/add_join_way`` scene 2), and their
rotation as groups fill.

Rotation is effectively once under concurrent joins: each join that sees its group at the threshold computes the
rotated code and writes it conditional on the code's rev *before* calling WeCom. One write wins and pushes the new
chat list (``update_join_way``); a loser re-reads, finds the group already dropped and does nothing. A push that
fails leaves the code marked pending; a later join pushes it again once PUSH_GRACE_SECONDS have passed, claiming
that push with the same conditional write.

Attribution: the code id is the join way's ``state``. WeCom reports it on each member who joined through the code
(``groupchat/get`` member ``state``; g2 records it on the member's join), and ``attribution(tenant_id, state)``
answers the code and the channel (``channel_id``, or the code itself) the join counts toward.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.group_codes import (
    MEMBER_LIMIT,
    GroupCode,
    attribution,
    code_problems,
    needs_rotation,
    push_is_due,
    rotated,
)
from chalicelib.domain.group_facts import Via
from chalicelib.domain.group_naming import NamingTemplate, cohort_label, room_base_name
from chalicelib.domain.groups import ACTIVE, Group
from chalicelib.domain.instants import iso_of
from chalicelib.domain.signals import Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError, SiyuError, WeComInvalidArgumentError
from chalicelib.observability import count, logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    GroupRepository,
    IdGenerator,
    JoinWayPort,
    Page,
    WeComCredentials,
)

_NUMBER = re.compile("[0-9]{1,6}")
MAX_TRIES = 5  # conditional writes lost in a row before a join gives up (each loss means another join rotated)


class CodeRepo(GroupRepository, ChannelRepository, Protocol):
    def create_group_code(self, tenant_id: str, code: GroupCode) -> None: ...
    def get_group_code(self, tenant_id: str, code_id: str, *, consistent: bool = False) -> GroupCode | None: ...
    def list_group_codes(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def save_group_code(self, tenant_id: str, code: GroupCode, *, expected_rev: int) -> bool: ...
    def update_group_code(
        self, tenant_id: str, code: GroupCode, *, expected_rev: int, add_chats: list[str], drop_chats: list[str]
    ) -> None: ...
    def delete_group_code(self, tenant_id: str, code_id: str) -> GroupCode | None: ...
    def group_code_of_chat(self, tenant_id: str, chat_id: str) -> str | None: ...
    def group_codes_of_chats(self, tenant_id: str, chat_ids: list[str]) -> dict[str, str]: ...
    def get_group_naming(self, tenant_id: str) -> NamingTemplate | None: ...


def _creds(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant_id=tenant.tenant_id, corp_id=tenant.corp_id, secret=tenant.wecom_secret)


def next_number(base_name: str, names: list[str]) -> int:
    """The number after the highest among ``names`` that are ``base_name`` + a number (1 when none is)."""
    rests = (n[len(base_name) :] for n in names if n.startswith(base_name))
    numbers = [int(rest) for rest in rests if _NUMBER.fullmatch(rest)]
    return max(numbers, default=0) + 1


def _check(code: GroupCode) -> None:
    problems = code_problems(code)
    if problems:
        summary = "; ".join(f"{f}: {m}" for f, m in problems)
        raise InvalidError(summary, details=[{"path": f, "message": m} for f, m in problems])


def _stale(code_id: str, current: int, sent: int) -> ConflictError:
    return ConflictError(
        f"group code {code_id} is at rev {current}, not {sent}: reload and retry",
        code="stale_rev",
        details={"rev": current},
    )


class GroupCodeService:
    def __init__(self, repo: CodeRepo, wecom: JoinWayPort, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.ids = ids

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    # --- administration ---------------------------------------------------------------------------------------

    def create(self, tenant: Tenant, data: dict[str, Any]) -> GroupCode:
        tid = tenant.tenant_id
        template = self.repo.get_group_naming(tid) or NamingTemplate()
        if not template.configured:
            raise ConflictError(
                f"tenant {tid} has no group naming template; PUT /t/{tid}/settings/group-naming first",
                code="no_naming_template",
            )
        chat_ids, queue = tuple(data["chat_ids"]), tuple(data.get("queue") or ())
        channel_id = data.get("channel_id")
        if channel_id is not None and self.repo.get_channel(tid, channel_id) is None:
            raise InvalidError(f"channel_id: channel {channel_id} does not exist")
        groups = self._check_free(tid, list(dict.fromkeys((*chat_ids, *queue))))
        now = iso_of(self.clock.now(), tenant.zone)
        base_name = room_base_name(template, data["positioning"], data["cohort"])
        names = [groups[c].state.name for c in (*chat_ids, *queue)]
        code = GroupCode(
            code_id=self.ids.new_id("gc_"),
            name=data["name"],
            room_base_name=base_name,
            room_base_id=int(data.get("room_base_id") or next_number(base_name, names)),
            chat_ids=chat_ids,
            queue=queue,
            channel_id=channel_id,
            positioning=data["positioning"],
            cohort=cohort_label(template, data["cohort"]),
            rotate_at=int(data.get("rotate_at", MEMBER_LIMIT)),
            auto_create_room=bool(data.get("auto_create_room", True)),
            remark=data["name"][:30],
            created_at=now,
            updated_at=now,
        )
        _check(code)
        return self._register(tenant, code)

    def _register(self, tenant: Tenant, code: GroupCode) -> GroupCode:
        """Create the WeCom join way, then store; if storing fails, remove the join way again."""
        creds = _creds(tenant)
        config_id = self.wecom.add_join_way(
            creds,
            chat_ids=list(code.chat_ids),
            state=code.state,
            room_base_name=code.room_base_name,
            room_base_id=code.room_base_id,
            auto_create_room=code.auto_create_room,
            scene=2,
            remark=code.remark,
        )
        try:
            way = self.wecom.get_join_way(creds, config_id)
            code = replace(code, config_id=config_id, qr_code=str(way.qr_code))
            self.repo.create_group_code(tenant.tenant_id, code)
        except SiyuError:
            self.wecom.del_join_way(creds, config_id)
            raise
        return replace(code, rev=1)

    def get(self, tenant_id: str, code_id: str) -> GroupCode:
        code = self.repo.get_group_code(tenant_id, code_id)
        if code is None:
            raise NotFoundError(f"group code {code_id} does not exist")
        return code

    def list(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        return self.repo.list_group_codes(tenant_id, cursor=cursor, limit=limit)

    def update(self, tenant: Tenant, code_id: str, data: dict[str, Any]) -> GroupCode:
        """Replace the waiting groups (``queue``) or the threshold (``rotate_at``) if ``data["rev"]`` is still the
        code's rev. Neither reaches WeCom until a rotation does (the join way holds only ``chat_ids``), except that a
        chat list still pending is pushed."""
        tid = tenant.tenant_id
        code = self.get(tid, code_id)
        rev = int(data["rev"])
        if code.rev != rev:
            raise _stale(code_id, code.rev, rev)
        queue = tuple(data.get("queue", code.queue))
        again = [c for c in queue if c in code.retired or c in code.full]
        if again:
            raise InvalidError(f"queue: group(s) already full on this code: {', '.join(again)}")
        added = [c for c in queue if c not in code.chats]
        self._check_free(tid, added)
        dropped = [c for c in code.queue if c not in queue]
        updated = replace(
            code,
            queue=queue,
            rotate_at=int(data.get("rotate_at", code.rotate_at)),
            updated_at=iso_of(self.clock.now(), tenant.zone),
        )
        _check(updated)
        try:
            self.repo.update_group_code(tid, updated, expected_rev=rev, add_chats=added, drop_chats=dropped)
        except ConflictError:
            latest = self.get(tid, code_id).rev
            if latest != rev:
                raise _stale(code_id, latest, rev) from None
            raise
        saved = replace(updated, rev=rev + 1)
        if saved.pending_since:  # a chat list WeCom has not taken yet: an edit is a way to push it by hand
            self._push(tenant, saved)
            return self.repo.get_group_code(tid, code_id, consistent=True) or saved
        return saved

    def _check_free(self, tenant_id: str, chat_ids: Sequence[str]) -> dict[str, Group]:
        """The groups, checked to exist, be active and be on no code (a 400 or a 409 naming them otherwise)."""
        groups = self.repo.get_groups(tenant_id, [*chat_ids])
        unusable = [c for c in chat_ids if c not in groups or groups[c].state.status != ACTIVE]
        if unusable:
            raise InvalidError(f"unknown or dismissed group(s): {', '.join(unusable)}")
        taken = self.repo.group_codes_of_chats(tenant_id, [*chat_ids])
        if taken:
            held = ", ".join(f"{c} (on {code})" for c, code in sorted(taken.items()))
            raise ConflictError(f"group(s) already on a code: {held}", code="group_on_code", details=taken)
        return groups

    def delete(self, tenant: Tenant, code_id: str) -> None:
        code = self.get(tenant.tenant_id, code_id)
        if code.config_id:
            try:
                self.wecom.del_join_way(_creds(tenant), code.config_id)
            except WeComInvalidArgumentError:
                logger.info("join way already gone at WeCom", extra={"code_id": code_id})
        self.repo.delete_group_code(tenant.tenant_id, code_id)

    def attribution(self, tenant_id: str, state: str) -> Via | None:
        """The code and channel a join with this join-way ``state`` counts toward (None: not one of our codes)."""
        code = self.repo.get_group_code(tenant_id, state) if state else None
        return attribution(code) if code is not None else None

    # --- rotation ---------------------------------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        """GROUP_JOINED: rotate the group's code if the join filled the group (one read for a group on no code)."""
        chat_id = signal.chat_id or subject_id
        code_id = self.repo.group_code_of_chat(tenant.tenant_id, chat_id)
        if code_id is None:
            return
        group = self.repo.get_group(tenant.tenant_id, chat_id, consistent=True)
        if group is not None:
            self.rotate_if_full(tenant, code_id, chat_id, group.state.member_count)

    def rotate_if_full(self, tenant: Tenant, code_id: str, chat_id: str, member_count: int) -> bool:
        """Rotate ``chat_id`` out of the code if ``member_count`` reached its threshold; True if this call did it."""
        tid = tenant.tenant_id
        for _ in range(MAX_TRIES):
            code = self.repo.get_group_code(tid, code_id, consistent=True)
            if code is None:
                return False
            now = self._now()
            if needs_rotation(code, chat_id, member_count):
                changed = rotated(code, chat_id, now=now, updated_at=iso_of(self.clock.now(), tenant.zone))
            elif push_is_due(code, now):
                changed = replace(code, pending_since=now)  # claim the stuck push, so one join makes it
            else:
                return False
            if self.repo.save_group_code(tid, changed, expected_rev=code.rev):
                count("GroupCode.rotated" if changed.rotations > code.rotations else "GroupCode.repushed")
                self._push(tenant, replace(changed, rev=code.rev + 1))
                return changed.rotations > code.rotations
        logger.warning("group code kept changing under this join", extra={"code_id": code_id})
        return False

    def _push(self, tenant: Tenant, code: GroupCode) -> None:
        """Tell WeCom the code's chat list, then mark the code in sync (unless it changed again meanwhile: then
        its own writer pushes). A failure leaves it pending for a later join to push. WeCom's update takes the whole
        configuration, and WeCom counts ``room_base_id`` up as it opens rooms for the code: the push keeps WeCom's
        count when it is ahead, or the next room would repeat a name."""
        way = self.wecom.get_join_way(_creds(tenant), code.config_id)
        self.wecom.update_join_way(
            _creds(tenant),
            config_id=code.config_id,
            chat_ids=list(code.chat_ids),
            state=code.state,
            room_base_name=code.room_base_name,
            room_base_id=max(code.room_base_id, way.room_base_id),
            auto_create_room=code.auto_create_room,
            scene=2,
            remark=code.remark,
        )
        self.repo.save_group_code(tenant.tenant_id, replace(code, pending_since=0), expected_rev=code.rev)
