"""In-memory group members, history, member index and group syncs, with the DynamoDB store's semantics."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.domain.group_members import GroupMember, MemberChange, erased, erased_change
from chalicelib.ports import Page


class FakeGroupMemberStoreMixin:
    lock: Any

    def _gm(self) -> dict[str, Any]:
        if not hasattr(self, "_group_member_data"):
            self._group_member_data: dict[str, Any] = {"members": {}, "changes": {}, "jobs": {}, "heads": {}}
        return self._group_member_data

    def get_members(self, tenant_id: str, chat_id: str, member_keys: list[str]) -> dict[str, GroupMember]:
        with self.lock:
            members = self._gm()["members"]
            found = (members.get((tenant_id, chat_id, key)) for key in member_keys)
            return {m.key: m for m in found if m is not None}

    def list_members(self, tenant_id: str, chat_id: str, *, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page  # the one cursor contract of the fake store

        with self.lock:
            members = self._gm()["members"]
            keys = sorted(key for (t, c, key) in members if (t, c) == (tenant_id, chat_id))
            items = [members[(tenant_id, chat_id, key)] for key in keys]
            return _page(items, keys, cursor, limit, f"{tenant_id}#{chat_id}")

    def put_members(self, tenant_id: str, chat_id: str, members: list[GroupMember]) -> None:
        with self.lock:
            for member in members:
                self._gm()["members"][(tenant_id, chat_id, member.key)] = member

    def add_member_change(self, tenant_id: str, chat_id: str, change: MemberChange) -> bool:
        with self.lock:
            key = (tenant_id, chat_id, change.member_key, change.at, change.kind)
            if key in self._gm()["changes"]:
                return False
            self._gm()["changes"][key] = change
            return True

    def member_changes(self, tenant_id: str, chat_id: str, member_key: str) -> list[MemberChange]:
        with self.lock:
            changes = self._gm()["changes"]
            keys = sorted(k for k in changes if k[:3] == (tenant_id, chat_id, member_key))
            return [changes[k] for k in keys]

    def member_chats(self, tenant_id: str, member_key: str) -> list[str]:
        with self.lock:
            found = self._gm()["members"].items()
            return sorted({c for (t, c, key), m in found if (t, key) == (tenant_id, member_key) and not m.erased})

    def erase_group_member(self, tenant_id: str, chat_id: str, member_key: str) -> int:
        with self.lock:
            rewritten = 0
            members, changes = self._gm()["members"], self._gm()["changes"]
            if (tenant_id, chat_id, member_key) in members:
                members[(tenant_id, chat_id, member_key)] = erased(members[(tenant_id, chat_id, member_key)])
                rewritten += 1
            for key in [k for k in changes if k[:3] == (tenant_id, chat_id, member_key)]:
                changes[key] = erased_change(changes[key])
                rewritten += 1
            return rewritten

    def claim_group_sync(self, tenant_id: str, job: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            head = self._gm()["heads"].get(tenant_id)
            if head is not None and head["running"]:
                return copy.deepcopy(self._gm()["jobs"][(tenant_id, head["job_id"])])
            self._gm()["heads"][tenant_id] = {"job_id": job["job_id"], "running": True}
            self._gm()["jobs"][(tenant_id, job["job_id"])] = copy.deepcopy(job)
            return copy.deepcopy(job)

    def save_group_sync(self, tenant_id: str, job: dict[str, Any]) -> bool:
        with self.lock:
            before = self._gm()["jobs"].get((tenant_id, job["job_id"]))
            if before is None or before["seq"] != job["seq"] - 1:
                return False
            head = self._gm()["heads"].get(tenant_id)
            if job["status"] != "running":
                if head is None or head["job_id"] != job["job_id"]:
                    return False
                head["running"] = False
            self._gm()["jobs"][(tenant_id, job["job_id"])] = copy.deepcopy(job)
            return True

    def get_group_sync(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._gm()["jobs"].get((tenant_id, job_id))
            return copy.deepcopy(job) if job is not None else None

    def current_group_sync(self, tenant_id: str) -> dict[str, Any] | None:
        with self.lock:
            head = self._gm()["heads"].get(tenant_id)
            return None if head is None else self.get_group_sync(tenant_id, head["job_id"])
