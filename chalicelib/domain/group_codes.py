"""Group live codes (群活码): one printed QR code that keeps working for thousands of people. Pure.

A code is a WeCom join way (``groupchat/add_join_way`` scene 2) over at most 5 groups. When one of its groups
reaches the code's threshold (``rotate_at``, at most WeCom's member limit of 500) the code rotates: that group is
dropped from the join way and the next waiting group (``queue``) takes its place. With none waiting, the full group
stays (a join way needs a group) and is marked ``full``: ``auto_create_room`` lets WeCom open the next room itself,
named ``room_base_name`` + ``room_base_id``, when the groups on the code are full.

The code id doubles as the join way's ``state`` (≤ 30 chars, like a channel's): WeCom reports it on each member who
joined through the code, which attributes the join to the code and, through ``channel_id``, to a channel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.group_facts import Via

MAX_CODE_CHATS = 5  # WeCom: chat_id_list ≤ 5
MAX_QUEUE = 50
MEMBER_LIMIT = 500  # a customer group's member limit
MIN_ROTATE_AT = 2
MAX_STATE = 30
PUSH_GRACE_SECONDS = 60  # a change not yet pushed to WeCom is pushed again by a later join after this long


@dataclass(frozen=True)
class GroupCode:
    code_id: str  # also the join way's state
    name: str
    room_base_name: str  # from the naming template: WeCom's auto-created rooms are named this + their number
    room_base_id: int  # the number of the next room WeCom creates
    chat_ids: tuple[str, ...]  # the groups on the join way now, in order
    queue: tuple[str, ...] = ()  # groups waiting to take a full one's place, in order
    retired: tuple[str, ...] = ()  # groups dropped from the code as full, oldest first
    full: tuple[str, ...] = ()  # groups still on the code although full (nothing was waiting to replace them)
    channel_id: str | None = None  # the channel (渠道) its joins count toward; None: the code is its own channel
    positioning: str = ""
    cohort: str = ""
    rotate_at: int = MEMBER_LIMIT
    auto_create_room: bool = True
    remark: str = ""
    config_id: str = ""
    qr_code: str = ""
    rotations: int = 0
    pending_since: int = 0  # unix seconds the stored chat list changed without reaching WeCom yet; 0 = in sync
    created_at: str = ""
    updated_at: str = ""
    rev: int = 0

    @property
    def state(self) -> str:
        return self.code_id

    @property
    def chats(self) -> tuple[str, ...]:
        """Every group the code has held or will hold: what the chat → code links cover."""
        return tuple(dict.fromkeys((*self.chat_ids, *self.queue, *self.retired)))

    def public(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "state": self.state,
            "name": self.name,
            "channel_id": self.channel_id,
            "positioning": self.positioning,
            "cohort": self.cohort,
            "room_base_name": self.room_base_name,
            "room_base_id": self.room_base_id,
            "chat_ids": list(self.chat_ids),
            "queue": list(self.queue),
            "retired": list(self.retired),
            "full": list(self.full),
            "rotate_at": self.rotate_at,
            "auto_create_room": self.auto_create_room,
            "config_id": self.config_id,
            "qr_code": self.qr_code,
            "rotations": self.rotations,
            "in_sync": self.pending_since == 0,
            "rev": self.rev,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def code_problems(code: GroupCode) -> list[tuple[str, str]]:
    """(field, message) for each rule a new code breaks."""
    problems: list[tuple[str, str]] = []
    if not 1 <= len(code.chat_ids) <= MAX_CODE_CHATS:
        problems.append(("chat_ids", f"a group code takes 1 to {MAX_CODE_CHATS} groups"))
    if len(code.queue) > MAX_QUEUE:
        problems.append(("queue", f"at most {MAX_QUEUE} waiting groups"))
    every = (*code.chat_ids, *code.queue)
    if len(set(every)) != len(every):
        problems.append(("chat_ids", "a group appears twice in chat_ids and queue"))
    if not MIN_ROTATE_AT <= code.rotate_at <= MEMBER_LIMIT:
        problems.append(("rotate_at", f"must be {MIN_ROTATE_AT} to {MEMBER_LIMIT} (the member limit)"))
    if len(code.state) > MAX_STATE:
        problems.append(("code_id", f"the state must be at most {MAX_STATE} characters"))
    return problems


def needs_rotation(code: GroupCode, chat_id: str, member_count: int) -> bool:
    """Whether a join that left ``chat_id`` with ``member_count`` members makes the code drop that group."""
    return chat_id in code.chat_ids and chat_id not in code.full and member_count >= code.rotate_at


def rotated(code: GroupCode, chat_id: str, *, now: int, updated_at: str) -> GroupCode:
    """The code once ``chat_id`` is full: dropped for the next waiting group (in its place, so the order stays), or
    kept and marked full when nothing waits. The change is pending until pushed to WeCom."""
    if code.queue:
        nxt, queue = code.queue[0], code.queue[1:]
        chat_ids = tuple(nxt if c == chat_id else c for c in code.chat_ids)
        retired = (*code.retired, chat_id)
        full = code.full
    elif len(code.chat_ids) > 1:
        chat_ids, queue, retired, full = (
            tuple(c for c in code.chat_ids if c != chat_id),
            (),
            (*code.retired, chat_id),
            code.full,
        )
    else:  # the last group stays: WeCom's auto_create_room opens the next one once it is full
        chat_ids, queue, retired, full = code.chat_ids, (), code.retired, (*code.full, chat_id)
    return replace(
        code,
        chat_ids=chat_ids,
        queue=queue,
        retired=retired,
        full=full,
        rotations=code.rotations + 1,
        pending_since=now,
        updated_at=updated_at,
    )


def push_is_due(code: GroupCode, now: int) -> bool:
    """Whether a change stuck unpushed (its pusher failed or died) should be pushed by whoever sees it now."""
    return code.pending_since > 0 and now - code.pending_since >= PUSH_GRACE_SECONDS


def attribution(code: GroupCode) -> Via:
    """Whom a join through ``code`` counts toward: the code, and its channel when it names one (a code without a
    channel counts toward itself only). The one answer for the code's stats, its channel's and the API."""
    return Via(code.code_id, code.channel_id or None)
