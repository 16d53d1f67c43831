"""PynamoDB models of the content and script libraries, kept apart from models.py (at its size limit)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.adapters.dynamodb.models import SiyuItem


class ContentLibraryItem(SiyuItem, discriminator="content_item"):
    """A content library item (素材库): ``doc`` holds it, ``rev`` orders edits; its WeCom media (media_id, upload
    time, the file it was made from) lives in its own attributes, written conditionally on the media it replaces."""

    rev = NumberAttribute(default=0)
    media_id = UnicodeAttribute(null=True)
    media_at = NumberAttribute(null=True)
    media_of = UnicodeAttribute(null=True)


class ScriptItem(SiyuItem, discriminator="script"):
    """A script (话术库): ``doc`` holds it, ``rev`` orders edits."""

    rev = NumberAttribute(default=0)
