"""In-memory customer groups, with GroupRepository's two revisioned halves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.groups import Group, GroupSetup, GroupState
from chalicelib.ports import Page


class FakeGroupStoreMixin:
    lock: Any

    def _groups(self) -> dict[tuple[str, str], Group]:
        if not hasattr(self, "_group_state"):
            self._group_state: dict[tuple[str, str], Group] = {}
        return self._group_state

    def get_group(self, tenant_id: str, chat_id: str, *, consistent: bool = False) -> Group | None:
        with self.lock:
            return self._groups().get((tenant_id, chat_id))

    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]:
        with self.lock:
            found = (self._groups().get((tenant_id, c)) for c in chat_ids)
            return {g.chat_id: g for g in found if g is not None}

    def list_groups(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page  # the one cursor contract of the fake store

        with self.lock:
            ids = sorted(c for (t, c) in self._groups() if t == tenant_id)
            return _page([self._groups()[(tenant_id, c)] for c in ids], ids, cursor, limit, tenant_id)

    def save_group_state(self, tenant_id: str, chat_id: str, state: GroupState, *, expected_rev: int) -> bool:
        with self.lock:
            group = self._groups().get((tenant_id, chat_id)) or Group(chat_id)
            if group.state.rev != expected_rev:
                return False
            self._groups()[(tenant_id, chat_id)] = replace(group, state=replace(state, rev=expected_rev + 1))
            return True

    def save_group_setup(self, tenant_id: str, chat_id: str, setup: GroupSetup, *, expected_rev: int) -> bool:
        with self.lock:
            group = self._groups().get((tenant_id, chat_id)) or Group(chat_id)
            if group.setup.rev != expected_rev:
                return False
            self._groups()[(tenant_id, chat_id)] = replace(group, setup=replace(setup, rev=expected_rev + 1))
            return True
