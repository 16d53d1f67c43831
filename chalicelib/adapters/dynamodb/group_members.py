"""A customer group's members, their join/leave history, and the tenant's group syncs; see docs/data-model.md.

Keys (built in keys.py):
- member: ``T#<tid>#G#<chat_id>`` / ``M#<member_key>`` (``GroupMemberItem``), in gsi1 at ``T#<tid>#GM#<member_key>``
  / ``<chat_id>`` until erased: the groups of one member, for erasure;
- history: ``T#<tid>#G#<chat_id>`` / ``H#<member_key>#<at:010d>#<join|leave>`` (``GroupChangeItem``), put once;
- sync job: ``T#<tid>#GSYNC`` / ``JOB#<job_id>`` (``GroupSyncItem``, saved only from ``seq`` - 1), and the head
  ``T#<tid>#GSYNC`` / ``CURRENT`` (``GroupSyncHeadItem``) naming the current job and whether it runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.jobs import log_keys
from chalicelib.adapters.dynamodb.models import (
    GroupChangeItem,
    GroupMemberItem,
    GroupSyncHeadItem,
    GroupSyncItem,
    SiyuItem,
)
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.group_members import GroupMember, MemberChange, erased, erased_change
from chalicelib.errors import ConflictError
from chalicelib.ports import Page


def _dump(value: Any) -> str:
    return json.dumps(asdict(value), ensure_ascii=False, separators=(",", ":"))


def _member_item(tenant_id: str, chat_id: str, member: GroupMember) -> GroupMemberItem:
    item = GroupMemberItem(pk=k.group_pk(tenant_id, chat_id), sk=k.group_member_sk(member.key), doc=_dump(member))
    if not member.erased:
        item.gsi1pk, item.gsi1sk = k.member_groups_pk(tenant_id, member.key), chat_id
    return item


def _member(doc: str | None) -> GroupMember:
    return GroupMember(**json.loads(doc or "{}"))


def _change(doc: str | None) -> MemberChange:
    return MemberChange(**json.loads(doc or "{}"))


class GroupMemberRepository(DynamoBase):
    def get_members(self, tenant_id: str, chat_id: str, member_keys: list[str]) -> dict[str, GroupMember]:
        """The records among ``member_keys`` that exist, by key (BatchGetItem, strongly consistent)."""
        pk = k.group_pk(tenant_id, chat_id)
        found = self.batch_get([(pk, k.group_member_sk(key)) for key in member_keys], consistent=True)
        members = (_member(raw.get("doc", {}).get("S")) for raw in found.values())
        return {m.key: m for m in members}

    def list_members(self, tenant_id: str, chat_id: str, *, cursor: str | None, limit: int) -> Page:
        """A page of the group's member records (current and former), in key order."""
        raws, nxt = self.query_page(
            GroupMemberItem,
            k.group_pk(tenant_id, chat_id),
            GroupMemberItem.sk.startswith(k.GROUP_MEMBER_PREFIX),
            cursor=cursor,
            limit=limit,
        )
        return Page([_member(r.get("doc", {}).get("S")) for r in raws], nxt)

    def put_members(self, tenant_id: str, chat_id: str, members: list[GroupMember]) -> None:
        """Write member records as they are (the caller decided them; writing one twice is harmless)."""
        with translate(), GroupMemberItem.batch_write() as batch:
            for member in members:
                batch.save(_member_item(tenant_id, chat_id, member))

    def add_member_change(self, tenant_id: str, chat_id: str, change: MemberChange) -> bool:
        """Put a history entry unless it exists: True the first time, False for a replay."""
        sk = k.group_change_sk(change.member_key, change.at, change.kind)
        item = GroupChangeItem(pk=k.group_pk(tenant_id, chat_id), sk=sk, doc=_dump(change))
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    def member_changes(self, tenant_id: str, chat_id: str, member_key: str) -> list[MemberChange]:
        """One member's history in the group, oldest first."""
        items, _ = self.query(
            GroupChangeItem,
            k.group_pk(tenant_id, chat_id),
            GroupChangeItem.sk.startswith(k.group_changes_of(member_key)),
            consistent=True,
        )
        return [_change(i.doc) for i in items]

    def member_chats(self, tenant_id: str, member_key: str) -> list[str]:
        """The chat ids of the groups the member has a record in (not erased), from gsi1."""
        with translate():
            found = GroupMemberItem.gsi1.query(k.member_groups_pk(tenant_id, member_key))
            return sorted({str(i.gsi1sk) for i in found if isinstance(i, GroupMemberItem)})

    def erase_group_member(self, tenant_id: str, chat_id: str, member_key: str) -> int:
        """Rewrite the member's record and history in the group without an identifier (and out of gsi1);
        returns the items rewritten. Idempotent."""
        pk, rewritten = k.group_pk(tenant_id, chat_id), 0
        item = self.get(GroupMemberItem, pk, k.group_member_sk(member_key), consistent=True)
        if item is not None:
            with translate():
                _member_item(tenant_id, chat_id, erased(_member(item.doc))).save()
            rewritten += 1
        changes, _ = self.query(
            GroupChangeItem, pk, GroupChangeItem.sk.startswith(k.group_changes_of(member_key)), consistent=True
        )
        for change in changes:
            change.doc = _dump(erased_change(_change(change.doc)))
            with translate():
                change.save()
            rewritten += 1
        return rewritten

    # --- the group sync's jobs ------------------------------------------------------------------------------------

    def claim_group_sync(self, tenant_id: str, job: dict[str, Any]) -> dict[str, Any]:
        """Make ``job`` the tenant's running sync unless one runs; returns the running one (``job`` or the other)."""
        pk = k.group_sync_pk(tenant_id)
        head = GroupSyncHeadItem(pk=pk, sk=k.GROUP_SYNC_HEAD_SK, job_id=job["job_id"], running=1)
        item = GroupSyncItem(pk=pk, sk=k.group_sync_job_sk(job["job_id"]), seq=job["seq"], doc=json.dumps(job))
        item.gsi2pk, item.gsi2sk = log_keys(tenant_id, job)  # the job log (adapters/dynamodb/jobs.py)
        free = SiyuItem.pk.does_not_exist() | (GroupSyncHeadItem.running == 0)
        try:
            with self.transaction() as tx:
                tx.save(head, condition=free)
                tx.save(item, condition=SiyuItem.pk.does_not_exist())
            return job
        except ConflictError:
            current = self.current_group_sync(tenant_id)
            if current is None:
                raise
            return current

    def save_group_sync(self, tenant_id: str, job: dict[str, Any]) -> bool:
        """Save the job's next state only from the state before (``seq`` - 1); a finished job frees the head."""
        pk = k.group_sync_pk(tenant_id)
        item = GroupSyncItem(pk=pk, sk=k.group_sync_job_sk(job["job_id"]), seq=job["seq"], doc=json.dumps(job))
        item.gsi2pk, item.gsi2sk = log_keys(tenant_id, job)
        cond = GroupSyncItem.seq == job["seq"] - 1
        if job["status"] == "running":
            return self.conditional(lambda: item.save(condition=cond))
        head = GroupSyncHeadItem(pk=pk, sk=k.GROUP_SYNC_HEAD_SK, job_id=job["job_id"], running=0)

        def finish() -> None:
            with self.transaction() as tx:
                tx.save(item, condition=cond)
                tx.save(head, condition=GroupSyncHeadItem.job_id == job["job_id"])

        return self.conditional(finish)

    def get_group_sync(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        item = self.get(GroupSyncItem, k.group_sync_pk(tenant_id), k.group_sync_job_sk(job_id), consistent=True)
        return dict(json.loads(item.doc or "{}")) if item is not None else None

    def current_group_sync(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's latest sync (running or not), or None if it never had one."""
        head = self.get(GroupSyncHeadItem, k.group_sync_pk(tenant_id), k.GROUP_SYNC_HEAD_SK, consistent=True)
        return None if head is None else self.get_group_sync(tenant_id, head.job_id)
