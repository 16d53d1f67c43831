"""Group live codes (群活码); see docs/data-model.md.

Keys: ``T#<tid>`` / ``GCODE#<code_id>`` holds the code (``doc`` JSON) under ``rev``, the condition of every change
— a rotation included, so two joins that both see a full group make one change. ``T#<tid>`` / ``GCODECHAT#<chat_id>``
names the code a group is on (every group the code ever held), so a join finds its group's code with one read and a
group is on one code at most (the link is created only if absent).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.models import GroupCodeChatItem, GroupCodeItem, SiyuItem
from chalicelib.domain.group_codes import GroupCode
from chalicelib.ports import Page

_TUPLES = tuple(f.name for f in fields(GroupCode) if f.name in ("chat_ids", "queue", "retired", "full"))


def code_to_doc(code: GroupCode) -> str:
    data = {n: v for n, v in asdict(code).items() if n != "rev"}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def code_from_doc(doc: str | None, rev: int) -> GroupCode:
    data: dict[str, Any] = json.loads(doc) if doc else {}
    values: dict[str, Any] = {n: tuple(v) if n in _TUPLES else v for n, v in data.items()}
    return GroupCode(**values, rev=rev)


def _from_raw(raw: Raw) -> GroupCode:
    item = GroupCodeItem.from_raw_data(raw)
    return code_from_doc(item.doc, int(item.rev or 0))


def _item(tenant_id: str, code: GroupCode, rev: int) -> GroupCodeItem:
    return GroupCodeItem(pk=k.tenant_pk(tenant_id), sk=k.group_code_sk(code.code_id), doc=code_to_doc(code), rev=rev)


class GroupCodeRepository(DynamoBase):
    def create_group_code(self, tenant_id: str, code: GroupCode) -> None:
        """The code (rev 1) and a link for each of its groups, all or nothing: ConflictError if the code exists or
        one of its groups is already on a code."""
        pk = k.tenant_pk(tenant_id)
        with self.transaction("the code exists, or one of its groups is already on another code") as tx:
            tx.save(_item(tenant_id, code, 1), condition=SiyuItem.pk.does_not_exist())
            for chat_id in code.chats:
                link = GroupCodeChatItem(pk=pk, sk=k.group_code_chat_sk(chat_id), code_id=code.code_id)
                tx.save(link, condition=SiyuItem.pk.does_not_exist())

    def get_group_code(self, tenant_id: str, code_id: str, *, consistent: bool = False) -> GroupCode | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.group_code_sk(code_id), consistent=consistent)
        return _from_raw(raw) if raw else None

    def list_group_codes(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        raws, nxt = self.query_page(
            GroupCodeItem,
            k.tenant_pk(tenant_id),
            GroupCodeItem.sk.startswith(k.GROUP_CODE_PREFIX),
            cursor=cursor,
            limit=limit,
        )
        return Page([_from_raw(r) for r in raws], nxt)

    def save_group_code(self, tenant_id: str, code: GroupCode, *, expected_rev: int) -> bool:
        """Replace the code if its rev is still ``expected_rev`` (it becomes expected + 1); False when another
        writer changed it first (re-read and decide again). Its set of groups must not change (the links stay)."""
        item = _item(tenant_id, code, expected_rev + 1)
        return self.conditional(lambda: item.save(condition=GroupCodeItem.rev == expected_rev))

    def update_group_code(
        self, tenant_id: str, code: GroupCode, *, expected_rev: int, add_chats: list[str], drop_chats: list[str]
    ) -> None:
        """Replace the code if its rev is still ``expected_rev``, linking ``add_chats`` to it (each only if on no
        code) and unlinking ``drop_chats``, all or nothing: ConflictError if the rev moved or a group is taken."""
        pk = k.tenant_pk(tenant_id)
        with self.transaction("the code changed meanwhile, or one of the groups is already on another code") as tx:
            tx.save(_item(tenant_id, code, expected_rev + 1), condition=GroupCodeItem.rev == expected_rev)
            for chat_id in add_chats:
                link = GroupCodeChatItem(pk=pk, sk=k.group_code_chat_sk(chat_id), code_id=code.code_id)
                tx.save(link, condition=SiyuItem.pk.does_not_exist())
            for chat_id in drop_chats:
                link = GroupCodeChatItem(pk=pk, sk=k.group_code_chat_sk(chat_id))
                tx.delete(link, condition=GroupCodeChatItem.code_id == code.code_id)

    def delete_group_code(self, tenant_id: str, code_id: str) -> GroupCode | None:
        """Delete the code, then the links of its groups (they may join another code then); the deleted code, or
        None if there was none."""
        code = self.get_group_code(tenant_id, code_id, consistent=True)
        if code is None:
            return None
        pk = k.tenant_pk(tenant_id)
        self.batch_delete([(pk, k.group_code_sk(code_id))])
        self.batch_delete([(pk, k.group_code_chat_sk(c)) for c in code.chats])
        return code

    def group_code_of_chat(self, tenant_id: str, chat_id: str) -> str | None:
        """The id of the code the group is (or was) on, or None."""
        item = self.get(GroupCodeChatItem, k.tenant_pk(tenant_id), k.group_code_chat_sk(chat_id))
        return item.code_id if item else None

    def group_codes_of_chats(self, tenant_id: str, chat_ids: list[str]) -> dict[str, str]:
        """chat id → the code it is on, for those of ``chat_ids`` on a code (one batch read)."""
        pk = k.tenant_pk(tenant_id)
        found = self.batch_get([(pk, k.group_code_chat_sk(c)) for c in dict.fromkeys(chat_ids)])
        links = (GroupCodeChatItem.from_raw_data(raw) for raw in found.values())
        return {link.sk.removeprefix(k.GROUP_CODE_CHAT_PREFIX): link.code_id for link in links}
