"""The group-code and group-content contract, on DynamoDB Local and on the fake: a code's revision guards every
change (a rotation included), a group is on one code at most, content is revisioned, the naming template is one
item; everything is tenant-bound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.group_codes import GroupCodeRepository as C
from chalicelib.adapters.dynamodb.group_content import GroupContentRepository as N
from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_content import GroupContent
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.messages import Attachment, Message
from chalicelib.errors import ConflictError, InvalidError
from tests.integration.contract.registry import covers

CODE = GroupCode(
    code_id="gc_one",
    name="考研数学冲刺3期",
    room_base_name="XX教育·考研数学冲刺·3期·",
    room_base_id=3,
    chat_ids=("wr1", "wr2"),
    queue=("wr3",),
    channel_id="ch_1",
    rotate_at=480,
    config_id="cfg1",
    qr_code="https://qr/1",
    created_at="2026-12-01T10:00:00+08:00",
)


@covers(C.create_group_code, C.get_group_code, C.save_group_code)
def test_a_code_changes_only_under_its_revision(store: Any) -> None:
    store.create_group_code("acme", CODE)
    code = store.get_group_code("acme", "gc_one", consistent=True)
    assert code == replace(CODE, rev=1)
    rotated = replace(code, chat_ids=("wr3", "wr2"), queue=(), retired=("wr1",), rotations=1, pending_since=99)
    assert store.save_group_code("acme", rotated, expected_rev=1)
    assert not store.save_group_code("acme", replace(rotated, name="stale"), expected_rev=1)  # the loser re-reads
    assert store.get_group_code("acme", "gc_one", consistent=True) == replace(rotated, rev=2)
    assert not store.save_group_code("acme", replace(CODE, code_id="gc_none"), expected_rev=0)  # never creates
    assert store.get_group_code("other", "gc_one") is None  # tenants never meet
    with pytest.raises(ConflictError):
        store.create_group_code("acme", CODE)


@covers(C.group_code_of_chat, C.group_codes_of_chats, C.delete_group_code, C.create_group_code)
def test_a_group_is_on_one_code_at_most_until_that_code_is_deleted(store: Any) -> None:
    store.create_group_code("acme", CODE)
    assert store.group_code_of_chat("acme", "wr3") == "gc_one" and store.group_code_of_chat("acme", "wr9") is None
    assert store.group_codes_of_chats("acme", ["wr1", "wr9", "wr3", "wr1"]) == {"wr1": "gc_one", "wr3": "gc_one"}
    assert store.group_code_of_chat("other", "wr1") is None
    second = replace(CODE, code_id="gc_two", chat_ids=("wr7", "wr2"), queue=())
    with pytest.raises(ConflictError):
        store.create_group_code("acme", second)  # wr2 is on gc_one
    assert store.get_group_code("acme", "gc_two") is None and store.group_code_of_chat("acme", "wr7") is None
    store.create_group_code("other", second)  # another tenant's wr2 is another group
    deleted = store.delete_group_code("acme", "gc_one")
    assert deleted is not None and deleted.code_id == "gc_one"
    assert store.get_group_code("acme", "gc_one") is None and store.group_code_of_chat("acme", "wr1") is None
    assert store.delete_group_code("acme", "gc_one") is None
    store.create_group_code("acme", second)  # wr2 is free again
    assert store.group_code_of_chat("acme", "wr2") == "gc_two"


@covers(C.list_group_codes)
def test_codes_list_in_tenant_bound_pages(store: Any) -> None:
    for n in range(4):
        store.create_group_code("acme", replace(CODE, code_id=f"gc_{n}", chat_ids=(f"wr{n}",), queue=()))
    store.create_group_code("other", replace(CODE, code_id="gc_9", chat_ids=("wr0",), queue=()))
    first = store.list_group_codes("acme", cursor=None, limit=3)
    assert [c.code_id for c in first.items] == ["gc_0", "gc_1", "gc_2"] and first.next_cursor
    rest = store.list_group_codes("acme", cursor=first.next_cursor, limit=3)
    assert [c.code_id for c in rest.items] == ["gc_3"] and rest.next_cursor is None
    with pytest.raises(InvalidError):
        store.list_group_codes("other", cursor=first.next_cursor, limit=3)


RULES = GroupContent(
    content_id="gct_1",
    kind="rules",
    title="学习群群规",
    message=Message("1. 禁止广告\n2. 每日打卡", (Attachment("image", {"media_id": "m1"}),)),
    notes="开营当天发",
    created_at="2026-12-01T10:00:00+08:00",
)


@covers(N.create_group_content, N.get_group_content, N.save_group_content, N.delete_group_content)
def test_content_is_revisioned_and_tenant_bound(store: Any) -> None:
    store.create_group_content("acme", RULES)
    assert store.get_group_content("acme", "gct_1") == replace(RULES, rev=1)
    with pytest.raises(ConflictError):
        store.create_group_content("acme", RULES)
    edited = replace(RULES, title="新群规", chat_id="wr1")
    assert store.save_group_content("acme", edited, expected_rev=1)
    assert not store.save_group_content("acme", RULES, expected_rev=1)
    assert store.get_group_content("acme", "gct_1") == replace(edited, rev=2)
    assert store.get_group_content("other", "gct_1") is None
    assert not store.delete_group_content("other", "gct_1")
    assert store.delete_group_content("acme", "gct_1") and not store.delete_group_content("acme", "gct_1")
    assert store.get_group_content("acme", "gct_1") is None


@covers(N.list_group_content)
def test_content_lists_in_tenant_bound_pages(store: Any) -> None:
    for n in range(3):
        store.create_group_content("acme", replace(RULES, content_id=f"gct_{n}"))
    store.create_group_content("other", replace(RULES, content_id="gct_9"))
    first = store.list_group_content("acme", cursor=None, limit=2)
    assert [c.content_id for c in first.items] == ["gct_0", "gct_1"] and first.next_cursor
    rest = store.list_group_content("acme", cursor=first.next_cursor, limit=2)
    assert [c.content_id for c in rest.items] == ["gct_2"] and rest.next_cursor is None


@covers(N.get_group_naming, N.put_group_naming)
def test_the_naming_template_is_one_item_per_tenant(store: Any) -> None:
    assert store.get_group_naming("acme") is None
    template = NamingTemplate(institution="XX教育", separator="·", number_width=3)
    store.put_group_naming("acme", template)
    store.put_group_naming("acme", replace(template, separator="-"))
    assert store.get_group_naming("acme") == replace(template, separator="-")
    assert store.get_group_naming("other") is None
    # Neither codes, content nor the template show up among the tenant's groups.
    store.create_group_code("acme", CODE)
    store.create_group_content("acme", RULES)
    assert store.list_groups("acme", cursor=None, limit=10).items == []


@covers(C.update_group_code)
def test_an_update_moves_the_code_and_its_links_together_or_not_at_all(store: Any) -> None:
    store.create_group_code("acme", CODE)  # wr1, wr2 on the join way; wr3 waiting
    store.create_group_code("acme", replace(CODE, code_id="gc_two", chat_ids=("wr8",), queue=()))
    code = store.get_group_code("acme", "gc_one", consistent=True)
    requeued = replace(code, queue=("wr4", "wr5"), rotate_at=450)
    store.update_group_code("acme", requeued, expected_rev=1, add_chats=["wr4", "wr5"], drop_chats=["wr3"])
    assert store.get_group_code("acme", "gc_one", consistent=True) == replace(requeued, rev=2)
    assert store.group_codes_of_chats("acme", ["wr3", "wr4", "wr5"]) == {"wr4": "gc_one", "wr5": "gc_one"}
    with pytest.raises(ConflictError):  # a stale rev: nothing moves
        store.update_group_code(
            "acme", replace(requeued, queue=("wr6",)), expected_rev=1, add_chats=["wr6"], drop_chats=[]
        )
    with pytest.raises(ConflictError):  # wr8 is on gc_two: nothing moves
        store.update_group_code(
            "acme", replace(requeued, queue=("wr8",)), expected_rev=2, add_chats=["wr8"], drop_chats=[]
        )
    with pytest.raises(ConflictError):  # a group that is not this code's is not unlinked
        store.update_group_code("acme", requeued, expected_rev=2, add_chats=[], drop_chats=["wr8"])
    assert store.get_group_code("acme", "gc_one", consistent=True).rev == 2
    assert store.group_codes_of_chats("acme", ["wr6", "wr8"]) == {"wr8": "gc_two"}
