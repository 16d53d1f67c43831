"""The content library (素材库, /t/{tenant}/content): texts, images, files, links and mini-program cards kept once and
referenced by id from plan steps, group content, channel welcome messages and scripts.

An item's bytes are in the blob store, one key per upload (domain.library.blob_key), so an item's media_id always
names the bytes it was made from; sending (services/library_send.py) uploads them to WeCom when needed. Content is
not personal data: erasing a customer leaves the library alone (docs/content.md).
"""

from __future__ import annotations

import builtins
import hashlib
import mimetypes
from dataclasses import dataclass, replace
from typing import Any, Protocol

from chalicelib.domain.instants import iso_of
from chalicelib.domain.library import (
    CONTENT_KINDS,
    IMAGE_TYPES,
    MAX_BYTES,
    MIN_BYTES,
    SCENES,
    STAGES,
    ContentItem,
    FileRef,
    MediaRef,
    blob_key,
    blob_prefix,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError, UpstreamError
from chalicelib.ports import Clock, IdGenerator, Page
from chalicelib.ports.blobs import Blob, BlobStore
from chalicelib.services.groups.setup import filtered_page

FIELDS = ("title", "text", "url", "appid", "page", "picurl", "stage", "scene")


class LibraryRepo(Protocol):
    def create_content_item(self, tenant_id: str, item: ContentItem) -> None: ...
    def get_content_item(self, tenant_id: str, content_id: str) -> ContentItem | None: ...
    def get_content_items(self, tenant_id: str, content_ids: list[str]) -> dict[str, ContentItem]: ...
    def list_content_items(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def save_content_item(self, tenant_id: str, item: ContentItem, *, expected_rev: int) -> bool: ...
    def set_content_media(self, tenant_id: str, content_id: str, media: MediaRef, *, replacing: str | None) -> bool: ...
    def delete_content_item(self, tenant_id: str, content_id: str) -> bool: ...


@dataclass(frozen=True)
class Upload:
    """A file as a page or a route received it."""

    filename: str
    content_type: str
    data: bytes


def _checked(item: ContentItem) -> ContentItem:
    """What the schema cannot say: the fields each kind needs."""
    if item.kind not in CONTENT_KINDS:
        raise InvalidError(f"kind must be one of {', '.join(CONTENT_KINDS)}")
    if not item.title.strip():
        raise InvalidError("title: a content item needs a title")
    if item.kind == "text" and not item.text.strip():
        raise InvalidError("text: a text item needs its text")
    if item.kind == "link" and not item.url.startswith(("https://", "http://")):
        raise InvalidError("url: a link needs an http(s) URL")
    if item.kind == "miniprogram" and not (item.appid and item.page):
        raise InvalidError("appid, page: a mini-program card needs its appid and page")
    if item.stage is not None and item.stage not in STAGES:
        raise InvalidError(f"stage must be one of {', '.join(STAGES)}")
    if item.scene is not None and item.scene not in SCENES:
        raise InvalidError(f"scene must be one of {', '.join(SCENES)}")
    return item


class ContentService:
    def __init__(self, repo: LibraryRepo, blobs: BlobStore | None, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.blobs = blobs
        self.clock = clock
        self.ids = ids

    # --- reading ------------------------------------------------------------------------------------------------

    def item(self, tenant_id: str, content_id: str) -> ContentItem:
        found = self.repo.get_content_item(tenant_id, content_id)
        if found is None:
            raise NotFoundError(f"content {content_id} does not exist")
        return found

    def list(
        self,
        tenant_id: str,
        *,
        kind: str | None = None,
        tag: str | None = None,
        stage: str | None = None,
        scene: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page:
        def keep(c: ContentItem) -> bool:
            return (
                (kind is None or c.kind == kind)
                and (tag is None or tag in c.tags)
                and (stage is None or c.stage == stage)
                and (scene is None or c.scene == scene)
            )

        def fetch(after: str | None, n: int) -> Page:
            return self.repo.list_content_items(tenant_id, cursor=after, limit=n)

        return filtered_page(fetch, keep, cursor, limit)

    def missing(self, tenant_id: str, content_ids: tuple[str, ...] | builtins.list[str]) -> builtins.list[str]:
        """The ids among ``content_ids`` the tenant has no item for (what a plan, channel or script may not name)."""
        wanted = list(dict.fromkeys(content_ids))
        if not wanted:
            return []
        found = self.repo.get_content_items(tenant_id, wanted)
        return [c for c in wanted if c not in found]

    def require(self, tenant_id: str, content_ids: tuple[str, ...], where: str) -> None:
        """InvalidError naming every id at ``where`` that the tenant has no item for."""
        missing = self.missing(tenant_id, content_ids)
        if missing:
            raise InvalidError(f"{where}: content {', '.join(missing)} does not exist", code="content_not_found")

    def file(self, tenant_id: str, content_id: str) -> tuple[FileRef, Blob]:
        """The item's file and its bytes (a download, an image preview); 404 when it has none."""
        item = self.item(tenant_id, content_id)
        blob = self._store().get(tenant_id, item.file.key) if item.file else None
        if item.file is None or blob is None:
            raise NotFoundError(f"content {content_id} has no file")
        return item.file, blob

    # --- writing ------------------------------------------------------------------------------------------------

    def create(self, tenant: Tenant, data: dict[str, Any], upload: Upload | None = None) -> ContentItem:
        """A new item (and its file, when given: stored before the item, so an item never names missing bytes)."""
        now = iso_of(self.clock.now(), tenant.zone)
        item = _checked(
            ContentItem(
                content_id=self.ids.new_id("cnt_"),
                kind=data["kind"],
                tags=tuple(dict.fromkeys(data.get("tags") or ())),
                created_at=now,
                updated_at=now,
                **{n: data[n] for n in FIELDS if data.get(n) is not None},
            )
        )
        if upload is not None:
            item = replace(item, file=self._store_file(tenant.tenant_id, item, upload))
        self.repo.create_content_item(tenant.tenant_id, item)
        return replace(item, rev=1)

    def update(self, tenant: Tenant, content_id: str, data: dict[str, Any]) -> ContentItem:
        """Change the given fields if ``data["rev"]`` is still the item's rev (409 otherwise); the same change
        arriving twice answers the item as the first made it."""
        current = self.item(tenant.tenant_id, content_id)
        changes: dict[str, Any] = {n: data[n] for n in FIELDS if n in data}
        if "tags" in data:
            changes["tags"] = tuple(dict.fromkeys(data["tags"]))
        return self._save(tenant, current, changes, int(data["rev"]))

    def put_file(self, tenant: Tenant, content_id: str, upload: Upload, *, rev: int | None = None) -> ContentItem:
        """Replace the item's file (a new blob key: its old media_id no longer names it, so the next send uploads
        the new bytes). ``rev``: only if the item is still at it; None: whatever its rev."""
        current = self.item(tenant.tenant_id, content_id)
        f = current.file
        if f is not None and f.sha256 == hashlib.sha256(upload.data).hexdigest() and f.filename == upload.filename:
            return current  # these very bytes (a retried upload): nothing to do
        expected = current.rev if rev is None else rev
        stored = self._store_file(tenant.tenant_id, current, upload)
        return self._save(tenant, current, {"file": stored}, expected)

    def delete(self, tenant_id: str, content_id: str) -> None:
        """Delete the item, then its files. A step that still names it fails its touches with content_deleted."""
        if not self.repo.delete_content_item(tenant_id, content_id):
            raise NotFoundError(f"content {content_id} does not exist")
        if self.blobs is not None:
            self.blobs.delete_prefix(tenant_id, blob_prefix(content_id))

    def _save(self, tenant: Tenant, current: ContentItem, changes: dict[str, Any], rev: int) -> ContentItem:
        tid = tenant.tenant_id
        updated = _checked(replace(current, **changes, updated_at=iso_of(self.clock.now(), tenant.zone)))
        if current.rev == rev and self.repo.save_content_item(tid, updated, expected_rev=rev):
            return replace(updated, rev=rev + 1)
        latest = self.item(tid, current.content_id)
        same = replace(latest, updated_at="", rev=0) == replace(updated, updated_at="", rev=0)
        if latest.rev == rev + 1 and same:
            return latest  # this very change, made already (a retried PUT)
        raise ConflictError(
            f"content {current.content_id} is at rev {latest.rev}, not {rev}: reload and retry",
            code="stale_rev",
            details={"rev": latest.rev},
        )

    def _store(self) -> BlobStore:
        if self.blobs is None:
            raise UpstreamError("no blob storage is configured (SIYU_BLOB_BUCKET)")
        return self.blobs

    def _store_file(self, tenant_id: str, item: ContentItem, upload: Upload) -> FileRef:
        if not item.needs_file:
            raise InvalidError(f"file: a {CONTENT_KINDS[item.kind]} item has no file")
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type in ("", "application/octet-stream"):
            content_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        size = len(upload.data)
        if size < MIN_BYTES:
            raise InvalidError(f"file: WeCom takes files of more than {MIN_BYTES - 1} bytes")
        if size > MAX_BYTES[item.kind]:
            raise InvalidError(f"file: WeCom takes at most {MAX_BYTES[item.kind] // (1024 * 1024)} MB here")
        if item.kind in ("image", "miniprogram") and content_type not in IMAGE_TYPES:
            raise InvalidError("file: an image must be a PNG or a JPEG")
        name = (upload.filename or "file").replace("/", "_").replace("\\", "_")[-128:]
        key = blob_key(item.content_id, self.ids.new_id("f"))  # a new key per upload: racing uploads never mix
        self._store().put(tenant_id, key, upload.data, content_type)
        return FileRef(key, name, content_type, size, hashlib.sha256(upload.data).hexdigest())
