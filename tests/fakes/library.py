"""In-memory content and script libraries, with LibraryRepository's conditions (rev, the media it replaces)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.library import ContentItem, MediaRef, Script
from chalicelib.errors import ConflictError
from chalicelib.ports import Page


class FakeLibraryStoreMixin:
    lock: Any

    def _library(self) -> tuple[dict[tuple[str, str], ContentItem], dict[tuple[str, str], Script]]:
        if not hasattr(self, "_content_items"):
            self._content_items: dict[tuple[str, str], ContentItem] = {}
            self._scripts: dict[tuple[str, str], Script] = {}
        return self._content_items, self._scripts

    # --- content items ------------------------------------------------------------------------------------------

    def create_content_item(self, tenant_id: str, item: ContentItem) -> None:
        items, _ = self._library()
        with self.lock:
            if (tenant_id, item.content_id) in items:
                raise ConflictError(f"content {item.content_id} already exists")
            items[(tenant_id, item.content_id)] = replace(item, rev=1, media=None)

    def get_content_item(self, tenant_id: str, content_id: str) -> ContentItem | None:
        with self.lock:
            return self._library()[0].get((tenant_id, content_id))

    def get_content_items(self, tenant_id: str, content_ids: list[str]) -> dict[str, ContentItem]:
        with self.lock:
            found = (self._library()[0].get((tenant_id, c)) for c in content_ids)
            return {i.content_id: i for i in found if i is not None}

    def list_content_items(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page  # the one cursor contract of the fake store

        items, _ = self._library()
        with self.lock:
            ids = sorted(c for (t, c) in items if t == tenant_id)
            return _page([items[(tenant_id, c)] for c in ids], ids, cursor, limit, tenant_id)

    def save_content_item(self, tenant_id: str, item: ContentItem, *, expected_rev: int) -> bool:
        items, _ = self._library()
        with self.lock:
            current = items.get((tenant_id, item.content_id))
            if current is None or current.rev != expected_rev:
                return False
            items[(tenant_id, item.content_id)] = replace(item, rev=expected_rev + 1, media=current.media)
            return True

    def set_content_media(self, tenant_id: str, content_id: str, media: MediaRef, *, replacing: str | None) -> bool:
        items, _ = self._library()
        with self.lock:
            current = items.get((tenant_id, content_id))
            held = None if current is None or current.media is None else current.media.media_id
            if current is None or held != replacing:
                return False
            items[(tenant_id, content_id)] = replace(current, media=media)
            return True

    def delete_content_item(self, tenant_id: str, content_id: str) -> bool:
        with self.lock:
            return self._library()[0].pop((tenant_id, content_id), None) is not None

    # --- scripts ------------------------------------------------------------------------------------------------

    def create_script(self, tenant_id: str, script: Script) -> None:
        _, scripts = self._library()
        with self.lock:
            if (tenant_id, script.script_id) in scripts:
                raise ConflictError(f"script {script.script_id} already exists")
            scripts[(tenant_id, script.script_id)] = replace(script, rev=1)

    def get_script(self, tenant_id: str, script_id: str) -> Script | None:
        with self.lock:
            return self._library()[1].get((tenant_id, script_id))

    def list_scripts(self, tenant_id: str) -> list[Script]:
        _, scripts = self._library()
        with self.lock:
            return [s for (t, _), s in sorted(scripts.items()) if t == tenant_id]

    def save_script(self, tenant_id: str, script: Script, *, expected_rev: int) -> bool:
        _, scripts = self._library()
        with self.lock:
            current = scripts.get((tenant_id, script.script_id))
            if current is None or current.rev != expected_rev:
                return False
            scripts[(tenant_id, script.script_id)] = replace(script, rev=expected_rev + 1)
            return True

    def delete_script(self, tenant_id: str, script_id: str) -> bool:
        with self.lock:
            return self._library()[1].pop((tenant_id, script_id), None) is not None
