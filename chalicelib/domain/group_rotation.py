"""A group live code's rotation as ops read it (the console's 社群 page): which groups the code sends people to now,
how full each is against the code's threshold, which waits next, and which were rotated out. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.groups import Group

NOW, FULL, NEXT, RETIRED = "now", "full", "next", "retired"
ROLE_LABELS = {NOW: "正在引流", FULL: "已满（等待新群）", NEXT: "候补", RETIRED: "已轮换下线"}


@dataclass(frozen=True)
class Slot:
    """One group of a code: its role, members against the threshold (``percent`` capped at 100; None: unknown)."""

    chat_id: str
    name: str
    role: str
    members: int | None
    percent: int | None
    order: int = 0  # a waiting group's place in the queue (1 is next); 0 otherwise

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role] + (f" 第 {self.order} 位" if self.role == NEXT else "")


def rotation(code: GroupCode, groups: Mapping[str, Group]) -> tuple[Slot, ...]:
    """The code's groups in the order that matters: on the code now (full ones marked), waiting, rotated out."""

    def slot(chat_id: str, role: str, order: int = 0) -> Slot:
        group = groups.get(chat_id)
        members = group.state.member_count if group is not None else None
        percent = None if members is None else min(100, members * 100 // max(code.rotate_at, 1))
        name = group.state.name if group is not None and group.state.name else chat_id
        return Slot(chat_id, name, role, members, percent, order)

    full = set(code.full)
    return (
        *(slot(c, FULL if c in full else NOW) for c in code.chat_ids),
        *(slot(c, NEXT, i) for i, c in enumerate(code.queue, start=1)),
        *(slot(c, RETIRED) for c in reversed(code.retired)),
    )
