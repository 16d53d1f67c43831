"""Sending what the libraries hold: a message's content references (``Message.content_ids``) become WeCom text and
attachments, and a step's script (``Step.script_id``) its staff notes, when the message goes out — never before, so an
edit to an item reaches every step and channel that names it.

WeCom's media_id lives 3 days. An item's media is uploaded again before a send when it would expire within
``MEDIA_MARGIN`` (domain/library.needs_upload), and kept with a write conditional on the media it replaces: two fires
at once upload twice at worst, both media_ids are valid, one is kept, neither fails. If WeCom still answers 40007 (a
clock apart, media WeCom dropped early) the sender's caller asks ``refresh`` for new media and tries once more
(services/sop/delivery.py for touches, services/intake_effects.py for welcome messages): no touch fails because its
media expired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain.library import MEDIA_TYPE_OF, ContentItem, MediaRef, attachment_of, merged_text, needs_upload
from chalicelib.domain.messages import Attachment, Message
from chalicelib.domain.plans import Step
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, UpstreamError
from chalicelib.observability import count
from chalicelib.ports import Clock, MediaPort
from chalicelib.ports.blobs import BlobStore
from chalicelib.services.identities import credentials
from chalicelib.services.library import LibraryRepo
from chalicelib.services.scripts import ScriptRepo

logger = logging.getLogger("siyu.library")


class SenderRepo(LibraryRepo, ScriptRepo):
    """Content items with their media, and scripts."""


class ContentSender:
    def __init__(
        self,
        repo: SenderRepo,
        blobs: BlobStore | None,
        wecom: MediaPort,
        clock: Clock,
        tenants: Callable[[str], Tenant | None],
    ) -> None:
        self.repo = repo
        self.blobs = blobs
        self.wecom = wecom
        self.clock = clock
        self.tenants = tenants

    def message(self, tenant_id: str, message: Message) -> Message | None:
        """The message as WeCom takes it: its own text and attachments, then its items' (a text item's text after
        the message's text; the others as attachments with fresh media). None when an item it names is gone (or
        has no file yet): the caller fails the send with ``content_deleted`` rather than send half a message."""
        if not message.content_ids:
            return message
        found = self.repo.get_content_items(tenant_id, list(message.content_ids))
        items = [found.get(c) for c in message.content_ids]
        if any(item is None or not item.complete for item in items):
            logger.warning("a message names content that is gone", extra={"tenant": tenant_id})
            return None
        present = [item for item in items if item is not None]
        attachments = list(message.attachments)
        for item in present:
            made = attachment_of(item, self._media(tenant_id, item) if item.file else None)
            if made is not None:
                attachments.append(made)
        return Message(text=merged_text(message.text, present), attachments=tuple(attachments))

    def step(self, tenant_id: str, step: Step) -> Step | None:
        """The step as it goes out: its message resolved (None: an item is gone), its script's text after its notes
        (a deleted script leaves the notes as they are: staff still get the touch)."""
        message = self.message(tenant_id, step.message)
        if message is None:
            return None
        notes = step.notes
        if step.script_id:
            script = self.repo.get_script(tenant_id, step.script_id)
            if script is not None:
                notes = "\n\n".join(n for n in (step.notes, f"【{script.title}】{script.text}") if n)
        return replace(step, message=message, notes=notes)

    def refresh(self, tenant_id: str, message: Message) -> Message:
        """The same message with new media for every attachment made from an item (WeCom answered 40007)."""
        count("MediaRefreshed")
        attachments: list[Attachment] = []
        for attachment in message.attachments:
            item = self.repo.get_content_item(tenant_id, attachment.content_id) if attachment.content_id else None
            made = attachment_of(item, self._media(tenant_id, item, force=True)) if item and item.file else None
            attachments.append(made or attachment)
        return replace(message, attachments=tuple(attachments))

    def _media(self, tenant_id: str, item: ContentItem, *, force: bool = False) -> str:
        """A media_id for the item's file that outlives the send: the one kept, or a new upload."""
        now = self.clock.now().timestamp()
        if not force and not needs_upload(item, now) and item.media is not None:
            return item.media.media_id
        assert item.file is not None
        tenant = self.tenants(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        blob = self.blobs.get(tenant_id, item.file.key) if self.blobs is not None else None
        if blob is None:
            raise UpstreamError(f"the file of content {item.content_id} could not be read; try again")
        uploaded = self.wecom.upload_media(
            credentials(tenant),
            media_type=MEDIA_TYPE_OF[item.kind],
            filename=item.file.filename,
            content_type=item.file.content_type,
            data=blob.data,
        )
        count("MediaUploaded")
        media = MediaRef(uploaded.media_id, uploaded.created_at or int(now), item.file.key)
        replacing = item.media.media_id if item.media is not None else None
        if not self.repo.set_content_media(tenant_id, item.content_id, media, replacing=replacing):
            logger.info("another send uploaded the same content meanwhile", extra={"tenant": tenant_id})
        return media.media_id
