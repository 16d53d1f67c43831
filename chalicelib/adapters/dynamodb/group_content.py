"""Group content (群规, 公告, 欢迎语, FAQ) and the tenant's group naming template; see docs/data-model.md.

Keys: ``T#<tid>`` / ``GCONTENT#<content_id>`` (``doc`` JSON under ``rev``), ``T#<tid>`` / ``GNAMING`` (the
template in ``doc``): a tenant's content lists with one Query, and the template is one read.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.models import GroupContentItem, GroupNamingItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.channels import message_from_json, message_to_json
from chalicelib.domain.group_content import GroupContent
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.ports import Page


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _item(tenant_id: str, content: GroupContent, rev: int) -> GroupContentItem:
    data = {n: v for n, v in asdict(content).items() if n not in ("rev", "message")}
    data["message"] = message_to_json(content.message)
    sk = k.group_content_sk(content.content_id)
    return GroupContentItem(pk=k.tenant_pk(tenant_id), sk=sk, doc=_dump(data), rev=rev)


def _from_raw(raw: Raw) -> GroupContent:
    item = GroupContentItem.from_raw_data(raw)
    data: dict[str, Any] = json.loads(item.doc) if item.doc else {}
    data["message"] = message_from_json(data.get("message"))
    return GroupContent(**data, rev=int(item.rev or 0))


class GroupContentRepository(DynamoBase):
    def create_group_content(self, tenant_id: str, content: GroupContent) -> None:
        """Store a new piece at rev 1 (ConflictError if the id exists)."""
        with translate(f"group content {content.content_id} already exists"):
            _item(tenant_id, content, 1).save(condition=SiyuItem.pk.does_not_exist())

    def get_group_content(self, tenant_id: str, content_id: str) -> GroupContent | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.group_content_sk(content_id))
        return _from_raw(raw) if raw else None

    def list_group_content(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        """A page of the tenant's content in id order (the caller filters by kind or group)."""
        raws, nxt = self.query_page(
            GroupContentItem,
            k.tenant_pk(tenant_id),
            GroupContentItem.sk.startswith(k.GROUP_CONTENT_PREFIX),
            cursor=cursor,
            limit=limit,
        )
        return Page([_from_raw(r) for r in raws], nxt)

    def save_group_content(self, tenant_id: str, content: GroupContent, *, expected_rev: int) -> bool:
        """Replace the piece if its rev is still ``expected_rev`` (it becomes expected + 1); False otherwise."""
        item = _item(tenant_id, content, expected_rev + 1)
        return self.conditional(lambda: item.save(condition=GroupContentItem.rev == expected_rev))

    def delete_group_content(self, tenant_id: str, content_id: str) -> bool:
        """Delete the piece; False if there was none."""
        item = GroupContentItem(pk=k.tenant_pk(tenant_id), sk=k.group_content_sk(content_id))
        return self.conditional(lambda: item.delete(condition=SiyuItem.pk.exists()))

    def get_group_naming(self, tenant_id: str) -> NamingTemplate | None:
        item = self.get(GroupNamingItem, k.tenant_pk(tenant_id), k.GROUP_NAMING_SK)
        return NamingTemplate(**json.loads(item.doc)) if item and item.doc else None

    def put_group_naming(self, tenant_id: str, template: NamingTemplate) -> None:
        with translate():
            GroupNamingItem(pk=k.tenant_pk(tenant_id), sk=k.GROUP_NAMING_SK, doc=_dump(asdict(template))).save()
