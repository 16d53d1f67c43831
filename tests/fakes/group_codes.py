"""In-memory group codes (with their chat → code links), group content and the naming template, with the same
conditional semantics as adapters/dynamodb/group_codes.py and group_content.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_content import GroupContent
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.errors import ConflictError
from chalicelib.ports import Page


class FakeGroupCodeStoreMixin:
    lock: Any

    def _gc(self) -> dict[str, dict[Any, Any]]:
        if not hasattr(self, "_group_code_state"):
            self._group_code_state: dict[str, dict[Any, Any]] = {"codes": {}, "links": {}, "content": {}, "naming": {}}
        return self._group_code_state

    # --- codes ------------------------------------------------------------------------------------------------

    def create_group_code(self, tenant_id: str, code: GroupCode) -> None:
        with self.lock:
            codes, links = self._gc()["codes"], self._gc()["links"]
            if (tenant_id, code.code_id) in codes or any((tenant_id, c) in links for c in code.chats):
                raise ConflictError("the code exists, or one of its groups is already on another code")
            codes[(tenant_id, code.code_id)] = replace(code, rev=1)
            for chat_id in code.chats:
                links[(tenant_id, chat_id)] = code.code_id

    def get_group_code(self, tenant_id: str, code_id: str, *, consistent: bool = False) -> GroupCode | None:
        with self.lock:
            code: GroupCode | None = self._gc()["codes"].get((tenant_id, code_id))
            return code

    def list_group_codes(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page

        with self.lock:
            codes = self._gc()["codes"]
            ids = sorted(c for (t, c) in codes if t == tenant_id)
            return _page([codes[(tenant_id, c)] for c in ids], ids, cursor, limit, tenant_id)

    def save_group_code(self, tenant_id: str, code: GroupCode, *, expected_rev: int) -> bool:
        with self.lock:
            codes = self._gc()["codes"]
            current = codes.get((tenant_id, code.code_id))
            if current is None or current.rev != expected_rev:
                return False
            codes[(tenant_id, code.code_id)] = replace(code, rev=expected_rev + 1)
            return True

    def update_group_code(
        self, tenant_id: str, code: GroupCode, *, expected_rev: int, add_chats: list[str], drop_chats: list[str]
    ) -> None:
        with self.lock:
            codes, links = self._gc()["codes"], self._gc()["links"]
            current = codes.get((tenant_id, code.code_id))
            taken = any((tenant_id, c) in links for c in add_chats)
            foreign = any(links.get((tenant_id, c)) != code.code_id for c in drop_chats)
            if current is None or current.rev != expected_rev or taken or foreign:
                raise ConflictError("the code changed meanwhile, or one of the groups is already on another code")
            codes[(tenant_id, code.code_id)] = replace(code, rev=expected_rev + 1)
            for chat_id in add_chats:
                links[(tenant_id, chat_id)] = code.code_id
            for chat_id in drop_chats:
                links.pop((tenant_id, chat_id), None)

    def delete_group_code(self, tenant_id: str, code_id: str) -> GroupCode | None:
        with self.lock:
            code: GroupCode | None = self._gc()["codes"].pop((tenant_id, code_id), None)
            for chat_id in code.chats if code else ():
                self._gc()["links"].pop((tenant_id, chat_id), None)
            return code

    def group_code_of_chat(self, tenant_id: str, chat_id: str) -> str | None:
        with self.lock:
            found: str | None = self._gc()["links"].get((tenant_id, chat_id))
            return found

    def group_codes_of_chats(self, tenant_id: str, chat_ids: list[str]) -> dict[str, str]:
        with self.lock:
            links = self._gc()["links"]
            return {c: links[(tenant_id, c)] for c in chat_ids if (tenant_id, c) in links}

    # --- content and naming -----------------------------------------------------------------------------------

    def create_group_content(self, tenant_id: str, content: GroupContent) -> None:
        with self.lock:
            store = self._gc()["content"]
            if (tenant_id, content.content_id) in store:
                raise ConflictError(f"group content {content.content_id} already exists")
            store[(tenant_id, content.content_id)] = replace(content, rev=1)

    def get_group_content(self, tenant_id: str, content_id: str) -> GroupContent | None:
        with self.lock:
            found: GroupContent | None = self._gc()["content"].get((tenant_id, content_id))
            return found

    def list_group_content(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page

        with self.lock:
            store = self._gc()["content"]
            ids = sorted(c for (t, c) in store if t == tenant_id)
            return _page([store[(tenant_id, c)] for c in ids], ids, cursor, limit, tenant_id)

    def save_group_content(self, tenant_id: str, content: GroupContent, *, expected_rev: int) -> bool:
        with self.lock:
            store = self._gc()["content"]
            current = store.get((tenant_id, content.content_id))
            if current is None or current.rev != expected_rev:
                return False
            store[(tenant_id, content.content_id)] = replace(content, rev=expected_rev + 1)
            return True

    def delete_group_content(self, tenant_id: str, content_id: str) -> bool:
        with self.lock:
            return self._gc()["content"].pop((tenant_id, content_id), None) is not None

    def get_group_naming(self, tenant_id: str) -> NamingTemplate | None:
        with self.lock:
            found: NamingTemplate | None = self._gc()["naming"].get(tenant_id)
            return found

    def put_group_naming(self, tenant_id: str, template: NamingTemplate) -> None:
        with self.lock:
            self._gc()["naming"][tenant_id] = template
