"""The content and script libraries' contract, on DynamoDB Local and on the fake: revisioned items whose edits never
lose the media kept beside them, media written only over the media it replaces, scripts, all tenant-bound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.library import LibraryRepository as L
from chalicelib.domain.library import ContentItem, FileRef, MediaRef, Script
from chalicelib.errors import ConflictError
from tests.integration.contract.registry import covers

FILE = FileRef("content/cnt_1/f1", "poster.png", "image/png", 88, "ab" * 32)
POSTER = ContentItem(
    "cnt_1", "image", "课程海报", file=FILE, tags=("海报", "试听"), stage="nurturing", scene=None,
    created_at="2026-12-01T10:00:05+08:00", updated_at="2026-12-01T10:00:05+08:00",
)  # fmt: skip
MEDIA = MediaRef("3media1", 1_764_554_405, FILE.key)
SCRIPT = Script("scr_1", "hot", "closing", "限时", "今晚报名立减", content_ids=("cnt_1",), order=2)


@covers(L.create_content_item, L.get_content_item, L.save_content_item, L.delete_content_item)
def test_items_are_revisioned_and_tenant_bound(store: Any) -> None:
    store.create_content_item("acme", POSTER)
    assert store.get_content_item("acme", "cnt_1") == replace(POSTER, rev=1)
    with pytest.raises(ConflictError):
        store.create_content_item("acme", POSTER)
    edited = replace(POSTER, title="新海报", tags=("海报",))
    assert store.save_content_item("acme", edited, expected_rev=1)
    assert not store.save_content_item("acme", POSTER, expected_rev=1)
    assert store.get_content_item("acme", "cnt_1") == replace(edited, rev=2)
    assert store.get_content_item("beta", "cnt_1") is None
    assert not store.save_content_item("beta", edited, expected_rev=0)  # no such item there: nothing is made
    assert store.get_content_item("beta", "cnt_1") is None
    assert not store.delete_content_item("beta", "cnt_1")
    assert store.delete_content_item("acme", "cnt_1") and not store.delete_content_item("acme", "cnt_1")
    assert store.get_content_item("acme", "cnt_1") is None


@covers(L.set_content_media, L.save_content_item, L.get_content_items)
def test_media_is_kept_beside_the_item_and_replaced_only_over_what_was_read(store: Any) -> None:
    store.create_content_item("acme", POSTER)
    assert store.set_content_media("acme", "cnt_1", MEDIA, replacing=None)
    assert not store.set_content_media("acme", "cnt_1", replace(MEDIA, media_id="3other"), replacing=None)
    newer = replace(MEDIA, media_id="3media2", uploaded_at=MEDIA.uploaded_at + 300_000)
    assert not store.set_content_media("acme", "cnt_1", newer, replacing="3stale")
    assert store.set_content_media("acme", "cnt_1", newer, replacing="3media1")
    assert store.save_content_item("acme", replace(POSTER, title="改名"), expected_rev=1)  # an edit keeps the media
    got = store.get_content_item("acme", "cnt_1")
    assert got.media == newer and got.title == "改名" and got.rev == 2
    assert not store.set_content_media("acme", "cnt_9", MEDIA, replacing=None)  # no item: no media item either
    assert store.get_content_item("acme", "cnt_9") is None
    store.create_content_item("acme", replace(POSTER, content_id="cnt_2", file=None, kind="link", url="https://e.x"))
    found = store.get_content_items("acme", ["cnt_2", "cnt_1", "cnt_gone"])
    assert sorted(found) == ["cnt_1", "cnt_2"] and found["cnt_1"].media == newer
    assert store.get_content_items("beta", ["cnt_1"]) == {}


@covers(L.list_content_items)
def test_items_list_in_tenant_bound_pages(store: Any) -> None:
    for n in range(3):
        store.create_content_item("acme", replace(POSTER, content_id=f"cnt_{n}"))
    store.create_content_item("beta", replace(POSTER, content_id="cnt_9"))
    first = store.list_content_items("acme", cursor=None, limit=2)
    assert [i.content_id for i in first.items] == ["cnt_0", "cnt_1"] and first.next_cursor
    rest = store.list_content_items("acme", cursor=first.next_cursor, limit=2)
    assert [i.content_id for i in rest.items] == ["cnt_2"] and rest.next_cursor is None
    assert [i.content_id for i in store.list_content_items("beta", cursor=None, limit=5).items] == ["cnt_9"]


@covers(L.create_script, L.get_script, L.list_scripts, L.save_script, L.delete_script)
def test_scripts_are_revisioned_and_tenant_bound(store: Any) -> None:
    store.create_script("acme", SCRIPT)
    store.create_script("acme", replace(SCRIPT, script_id="scr_2", stage="new", scene="icebreak"))
    with pytest.raises(ConflictError):
        store.create_script("acme", SCRIPT)
    assert store.get_script("acme", "scr_1") == replace(SCRIPT, rev=1)
    assert store.get_script("beta", "scr_1") is None
    assert sorted(s.script_id for s in store.list_scripts("acme")) == ["scr_1", "scr_2"]
    assert store.list_scripts("beta") == []
    edited = replace(SCRIPT, text="今晚报名立减 200", content_ids=())
    assert store.save_script("acme", edited, expected_rev=1)
    assert not store.save_script("acme", SCRIPT, expected_rev=1)
    assert store.get_script("acme", "scr_1") == replace(edited, rev=2)
    assert store.delete_script("acme", "scr_1") and not store.delete_script("acme", "scr_1")
    assert [s.script_id for s in store.list_scripts("acme")] == ["scr_2"]
