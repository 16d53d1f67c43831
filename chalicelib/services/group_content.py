"""Group content (/t/{tenant}/group-content): 群规, 群公告, 入群欢迎语 and FAQ snippets, kept once and referenced by id.

Group plan steps and staff tasks name a piece by its id and read it with ``content(tenant_id, content_id)`` when
they run, so an edit reaches every step that uses it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.group_content import CONTENT_KINDS, GroupContent
from chalicelib.domain.instants import iso_of
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import Clock, GroupRepository, IdGenerator, Page
from chalicelib.services.groups.setup import filtered_page
from chalicelib.services.library import ItemSource, checked_message


class ContentRepo(GroupRepository, ItemSource, Protocol):
    def create_group_content(self, tenant_id: str, content: GroupContent) -> None: ...
    def get_group_content(self, tenant_id: str, content_id: str) -> GroupContent | None: ...
    def list_group_content(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def save_group_content(self, tenant_id: str, content: GroupContent, *, expected_rev: int) -> bool: ...
    def delete_group_content(self, tenant_id: str, content_id: str) -> bool: ...


class GroupContentService:
    def __init__(self, repo: ContentRepo, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids

    def _chat(self, tenant_id: str, chat_id: str | None) -> str | None:
        if chat_id is not None and self.repo.get_group(tenant_id, chat_id) is None:
            raise InvalidError(f"chat_id: group {chat_id} does not exist")
        return chat_id

    def create(self, tenant: Tenant, data: dict[str, Any]) -> GroupContent:
        now = iso_of(self.clock.now(), tenant.zone)
        content = GroupContent(
            content_id=self.ids.new_id("gct_"),
            kind=data["kind"],
            title=data["title"],
            message=checked_message(self.repo, tenant.tenant_id, data["message"], "/message"),
            chat_id=self._chat(tenant.tenant_id, data.get("chat_id")),
            notes=data.get("notes", ""),
            created_at=now,
            updated_at=now,
        )
        if content.kind not in CONTENT_KINDS:
            raise InvalidError(f"kind must be one of {', '.join(CONTENT_KINDS)}")
        self.repo.create_group_content(tenant.tenant_id, content)
        return replace(content, rev=1)

    def content(self, tenant_id: str, content_id: str) -> GroupContent:
        """The piece a plan step or a staff task names (NotFoundError if it was deleted)."""
        found = self.repo.get_group_content(tenant_id, content_id)
        if found is None:
            raise NotFoundError(f"group content {content_id} does not exist")
        return found

    def list(self, tenant_id: str, *, kind: str | None, chat_id: str | None, cursor: str | None, limit: int) -> Page:
        """A page of content; ``chat_id`` lists what that group uses: its own pieces and the tenant-wide ones."""

        def keep(c: GroupContent) -> bool:
            return (kind is None or c.kind == kind) and (chat_id is None or c.chat_id in (None, chat_id))

        def fetch(after: str | None, n: int) -> Page:
            return self.repo.list_group_content(tenant_id, cursor=after, limit=n)

        return filtered_page(fetch, keep, cursor, limit)

    def update(self, tenant: Tenant, content_id: str, data: dict[str, Any]) -> GroupContent:
        """Change the given fields if ``data["rev"]`` is still the piece's rev (409 otherwise)."""
        current = self.content(tenant.tenant_id, content_id)
        changes: dict[str, Any] = {n: data[n] for n in ("title", "notes") if n in data}
        if "message" in data:
            changes["message"] = checked_message(self.repo, tenant.tenant_id, data["message"], "/message")
        if "chat_id" in data:
            changes["chat_id"] = self._chat(tenant.tenant_id, data["chat_id"])
        rev = int(data["rev"])
        updated = replace(current, **changes, updated_at=iso_of(self.clock.now(), tenant.zone))
        if current.rev != rev or not self.repo.save_group_content(tenant.tenant_id, updated, expected_rev=rev):
            latest = self.content(tenant.tenant_id, content_id).rev
            raise ConflictError(
                f"group content {content_id} is at rev {latest}, not {rev}: reload and retry",
                code="stale_rev",
                details={"rev": latest},
            )
        return replace(updated, rev=rev + 1)

    def delete(self, tenant_id: str, content_id: str) -> None:
        if not self.repo.delete_group_content(tenant_id, content_id):
            raise NotFoundError(f"group content {content_id} does not exist")
