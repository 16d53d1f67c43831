"""The content library (素材库) and the script library (话术库); see docs/data-model.md and docs/content.md.

Keys: ``T#<tid>`` / ``LIB#<content_id>`` (``doc`` JSON under ``rev``, the WeCom media in ``media_id``, ``media_at``,
``media_of``) and ``T#<tid>`` / ``SCRIPT#<script_id>``. A tenant's items list with one Query; an edit rewrites only
``doc`` and ``rev``, so it never loses a media_id uploaded meanwhile; a media write is conditional on the media it
replaces, so two fires that both uploaded keep one, and neither fails.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.models_library import ContentLibraryItem, ScriptItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.library import ContentItem, FileRef, MediaRef, Script
from chalicelib.ports import Page


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _content_doc(item: ContentItem) -> str:
    data = {n: v for n, v in asdict(item).items() if n not in ("rev", "media", "content_id")}
    return _dump(data)


def _content_from_raw(raw: Raw) -> ContentItem:
    row = ContentLibraryItem.from_raw_data(raw)
    data: dict[str, Any] = json.loads(row.doc) if row.doc else {}
    data["tags"] = tuple(data.get("tags") or ())
    data["file"] = FileRef(**data["file"]) if data.get("file") else None
    media = None
    if row.media_id and row.media_at is not None and row.media_of:
        media = MediaRef(media_id=row.media_id, uploaded_at=int(row.media_at), of=row.media_of)
    content_id = row.sk.removeprefix(k.CONTENT_ITEM_PREFIX)
    return ContentItem(content_id=content_id, **data, rev=int(row.rev or 0), media=media)


def _script_doc(script: Script) -> str:
    return _dump({n: v for n, v in asdict(script).items() if n not in ("rev", "script_id")})


def _script_from_raw(raw: Raw) -> Script:
    row = ScriptItem.from_raw_data(raw)
    data: dict[str, Any] = json.loads(row.doc) if row.doc else {}
    data["content_ids"] = tuple(data.get("content_ids") or ())
    return Script(script_id=row.sk.removeprefix(k.SCRIPT_PREFIX), **data, rev=int(row.rev or 0))


class LibraryRepository(DynamoBase):
    # --- content items ------------------------------------------------------------------------------------------

    def create_content_item(self, tenant_id: str, item: ContentItem) -> None:
        """Store a new item at rev 1 (ConflictError if the id exists)."""
        row = ContentLibraryItem(
            pk=k.tenant_pk(tenant_id), sk=k.content_item_sk(item.content_id), doc=_content_doc(item), rev=1
        )
        with translate(f"content {item.content_id} already exists"):
            row.save(condition=SiyuItem.pk.does_not_exist())

    def get_content_item(self, tenant_id: str, content_id: str) -> ContentItem | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.content_item_sk(content_id))
        return _content_from_raw(raw) if raw else None

    def get_content_items(self, tenant_id: str, content_ids: list[str]) -> dict[str, ContentItem]:
        """The items that exist among ``content_ids`` (one BatchGetItem per 100), by id."""
        pk = k.tenant_pk(tenant_id)
        found = self.batch_get([(pk, k.content_item_sk(c)) for c in content_ids])
        items = [_content_from_raw(raw) for raw in found.values()]
        return {item.content_id: item for item in items}

    def list_content_items(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        """A page of the tenant's items in id order (the service filters by kind, tag, stage or scene)."""
        raws, nxt = self.query_page(
            ContentLibraryItem,
            k.tenant_pk(tenant_id),
            ContentLibraryItem.sk.startswith(k.CONTENT_ITEM_PREFIX),
            cursor=cursor,
            limit=limit,
        )
        return Page([_content_from_raw(r) for r in raws], nxt)

    def save_content_item(self, tenant_id: str, item: ContentItem, *, expected_rev: int) -> bool:
        """Rewrite the item's content if its rev is still ``expected_rev`` (it becomes expected + 1); its media is
        left as it is. False if the rev moved or the item is gone."""
        row = ContentLibraryItem(pk=k.tenant_pk(tenant_id), sk=k.content_item_sk(item.content_id))
        actions: list[Action] = [
            ContentLibraryItem.doc.set(_content_doc(item)),
            ContentLibraryItem.rev.set(expected_rev + 1),
        ]
        return self.conditional(lambda: row.update(actions, condition=ContentLibraryItem.rev == expected_rev))

    def set_content_media(self, tenant_id: str, content_id: str, media: MediaRef, *, replacing: str | None) -> bool:
        """Keep ``media`` as the item's WeCom media if its media is still ``replacing`` (None: it has none); False
        if another upload got there first, or the item is gone."""
        row = ContentLibraryItem(pk=k.tenant_pk(tenant_id), sk=k.content_item_sk(content_id))
        actions: list[Action] = [
            ContentLibraryItem.media_id.set(media.media_id),
            ContentLibraryItem.media_at.set(media.uploaded_at),
            ContentLibraryItem.media_of.set(media.of),
        ]
        held = (
            ContentLibraryItem.media_id.does_not_exist()
            if replacing is None
            else ContentLibraryItem.media_id == replacing
        )
        return self.conditional(lambda: row.update(actions, condition=SiyuItem.pk.exists() & held))

    def delete_content_item(self, tenant_id: str, content_id: str) -> bool:
        """Delete the item; False if there was none."""
        row = ContentLibraryItem(pk=k.tenant_pk(tenant_id), sk=k.content_item_sk(content_id))
        return self.conditional(lambda: row.delete(condition=SiyuItem.pk.exists()))

    # --- scripts ------------------------------------------------------------------------------------------------

    def create_script(self, tenant_id: str, script: Script) -> None:
        """Store a new script at rev 1 (ConflictError if the id exists)."""
        row = ScriptItem(pk=k.tenant_pk(tenant_id), sk=k.script_sk(script.script_id), doc=_script_doc(script), rev=1)
        with translate(f"script {script.script_id} already exists"):
            row.save(condition=SiyuItem.pk.does_not_exist())

    def get_script(self, tenant_id: str, script_id: str) -> Script | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.script_sk(script_id))
        return _script_from_raw(raw) if raw else None

    def list_scripts(self, tenant_id: str) -> list[Script]:
        """Every script of the tenant (a library is hundreds, not thousands: one Query, paged as DynamoDB pages)."""
        raws = self.query_raw(k.tenant_pk(tenant_id), SiyuItem.sk.startswith(k.SCRIPT_PREFIX))
        return [_script_from_raw(raw) for raw in raws]

    def save_script(self, tenant_id: str, script: Script, *, expected_rev: int) -> bool:
        """Replace the script if its rev is still ``expected_rev`` (it becomes expected + 1); False otherwise."""
        row = ScriptItem(
            pk=k.tenant_pk(tenant_id), sk=k.script_sk(script.script_id), doc=_script_doc(script), rev=expected_rev + 1
        )
        return self.conditional(lambda: row.save(condition=ScriptItem.rev == expected_rev))

    def delete_script(self, tenant_id: str, script_id: str) -> bool:
        """Delete the script; False if there was none."""
        row = ScriptItem(pk=k.tenant_pk(tenant_id), sk=k.script_sk(script_id))
        return self.conditional(lambda: row.delete(condition=SiyuItem.pk.exists()))
