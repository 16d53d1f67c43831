"""domain/tags.py ``adopt_corp_tags``: the WeCom corp tags Siyu does not know, added to its taxonomy by the contact
sync (docs/contact-sync.md, "WeCom tags"), within the taxonomy's rules. Pure: no store, no WeCom."""

from __future__ import annotations

from chalicelib.domain import tags as tags_module
from chalicelib.domain.tags import Tag, TagGroup, Taxonomy, adopt_corp_tags


def _adopt(taxonomy: Taxonomy, corp: list[tuple[str, str, dict[str, str]]]) -> tuple[list[TagGroup], int]:
    return adopt_corp_tags(
        taxonomy, corp, group_id_of=lambda w: "tg_" + w, tag_id_of=lambda w: "t_" + w, created_at="2026-12-01"
    )


def test_an_unknown_group_becomes_a_new_multi_choice_group_with_wecom_ids() -> None:
    groups, n = _adopt(Taxonomy(), [("etg1", "校区", {"海淀": "et1", "朝阳": "et2"})])
    assert n == 2
    assert groups == [
        TagGroup(
            "tg_etg1",
            "校区",
            exclusive=False,
            tags=(Tag("t_et1", "海淀", "et1"), Tag("t_et2", "朝阳", "et2")),
            wecom_group_id="etg1",
            created_at="2026-12-01",
        )
    ]


def test_known_tags_are_left_alone_and_new_ones_join_their_mirrored_group() -> None:
    mine = TagGroup("tg_a", "意向度", exclusive=True, tags=(Tag("t_a", "高", "et1"),), wecom_group_id="etg1")
    assert _adopt(Taxonomy((mine,)), [("etg1", "意向度", {"高": "et1"})]) == ([], 0)
    groups, n = _adopt(Taxonomy((mine,)), [("etg1", "意向度", {"高": "et1", "低": "et9"})])
    assert n == 1 and groups[0].exclusive and groups[0].group_id == "tg_a"
    assert groups[0].tags == (Tag("t_a", "高", "et1"), Tag("t_et9", "低", "et9"))


def test_a_group_and_tag_of_the_same_name_that_mirror_nothing_are_linked_not_doubled() -> None:
    empty = TagGroup("tg_a", "目标院校")  # a default group Siyu never mirrored (no tags yet)
    stale = TagGroup("tg_b", "年级", tags=(Tag("t_b", "大三", "gone"),), wecom_group_id="gone_group")
    groups, n = _adopt(
        Taxonomy((empty, stale)), [("etg1", "目标院校", {"北大": "et1"}), ("etg2", "年级", {"大三": "et2"})]
    )
    assert n == 2
    assert [(g.group_id, g.wecom_group_id) for g in groups] == [("tg_a", "etg1"), ("tg_b", "etg2")]
    assert groups[1].tags == (Tag("t_b", "大三", "et2"),)


def test_names_siyu_cannot_hold_and_tags_past_the_limit_are_left_out() -> None:
    long = "长" * 31
    groups, n = _adopt(Taxonomy(), [("etg1", long, {"a": "et1"}), ("etg2", "校区", {long: "et2", "海淀": "et3"})])
    assert n == 1 and [g.name for g in groups] == ["校区"] and [t.name for t in groups[0].tags] == ["海淀"]
    taken = TagGroup("tg_x", "校区", tags=(Tag("t_x", "朝阳", "et5"),), wecom_group_id="etg5")
    assert _adopt(Taxonomy((taken,)), [("etg5", "校区", {"朝阳": "et5"}), ("etg6", "校区", {"海淀": "et6"})]) == (
        [],
        0,
    )  # another live WeCom group's Siyu group holds the name


def test_the_corp_limit_of_3000_tags_stops_the_adoption() -> None:
    full = TagGroup("tg_a", "满", tags=tuple(Tag(f"t_{i}", str(i), f"w{i}") for i in range(2999)))
    groups, n = _adopt(Taxonomy((full,)), [("etg1", "校区", {"海淀": "et1", "朝阳": "et2"})])
    assert n == 1 and len(groups[0].tags) == 1
    assert tags_module.MAX_TAGS_PER_TENANT == 3000
