"""Tag taxonomy: tag groups (考研年份, 目标院校, 报课意向度, …), each exclusive or multi, mirrored to WeCom corp tags.

A customer's tags are a set of tag ids. Adding a tag of an exclusive group replaces the group's other tag, so
"意向度:高" and "意向度:低" can never stand together — the messy-tag problem the field names first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.errors import InvalidError, NotFoundError

MAX_TAG_NAME = 30  # WeCom corp tag names are at most 30 characters
MAX_TAGS_PER_TENANT = 3000  # WeCom: at most 3000 corp tags per corp


@dataclass(frozen=True)
class Tag:
    tag_id: str
    name: str
    wecom_id: str = ""  # the corp tag id once mirrored


@dataclass(frozen=True)
class TagGroup:
    group_id: str
    name: str
    exclusive: bool = False
    tags: tuple[Tag, ...] = ()
    wecom_group_id: str = ""
    created_at: str = ""

    def find(self, name: str) -> Tag | None:
        return next((t for t in self.tags if t.name == name), None)

    def public(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "name": self.name,
            "exclusive": self.exclusive,
            "tags": [{"tag_id": t.tag_id, "name": t.name, "mirrored": bool(t.wecom_id)} for t in self.tags],
            "created_at": self.created_at,
        }


# The taxonomy a new tenant starts with, in the field's own words (exclusive?, tags).
DEFAULT_TAXONOMY: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("流量平台来源", True, ("抖音", "B站", "公众号", "小红书", "线下海报", "老带新")),
    ("考研年份", True, ("2026", "2027", "2028")),
    ("报课意向度", True, ("高", "中", "低")),
    ("一战二战", True, ("一战", "二战")),
    ("目标院校", False, ()),
    ("年级", True, ()),
    ("科目", False, ("数学", "英语", "政治", "专业课")),
    ("意向产品", False, ()),
)


@dataclass(frozen=True)
class Taxonomy:
    """All tag groups of one tenant, with lookups by id and by (group, name)."""

    groups: tuple[TagGroup, ...] = field(default_factory=tuple)

    def group_of(self, tag_id: str) -> TagGroup:
        for g in self.groups:
            if any(t.tag_id == tag_id for t in g.tags):
                return g
        raise NotFoundError(f"tag {tag_id} does not exist")

    def tag(self, tag_id: str) -> Tag:
        return next(t for t in self.group_of(tag_id).tags if t.tag_id == tag_id)

    def group_named(self, name: str) -> TagGroup | None:
        return next((g for g in self.groups if g.name == name), None)

    def count(self) -> int:
        return sum(len(g.tags) for g in self.groups)


def check_tag_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_TAG_NAME:
        raise InvalidError(f"tag and group names must be 1-{MAX_TAG_NAME} characters")
    return name


def apply_tags(
    current: Iterable[str], add: Iterable[str], remove: Iterable[str], taxonomy: Taxonomy
) -> tuple[frozenset[str], frozenset[str]]:
    """New tag set and the tags the exclusivity rule displaced. Unknown tag ids raise NotFoundError."""
    tags = set(current) - set(remove)
    displaced: set[str] = set()
    for tag_id in add:
        group = taxonomy.group_of(tag_id)
        if group.exclusive:
            siblings = {t.tag_id for t in group.tags if t.tag_id != tag_id}
            displaced |= tags & siblings
            tags -= siblings
        tags.add(tag_id)
    return frozenset(tags), frozenset(displaced)


def with_tag(group: TagGroup, tag: Tag) -> TagGroup:
    return replace(group, tags=(*group.tags, tag))


CorpTags = tuple[str, str, dict[str, str]]  # a WeCom tag group: (its id, its name, tag name -> WeCom tag id)


def adopt_corp_tags(
    taxonomy: Taxonomy,
    corp: list[CorpTags],
    *,
    group_id_of: Callable[[str], str],
    tag_id_of: Callable[[str], str],
    created_at: str,
) -> tuple[list[TagGroup], int]:
    """The tag groups to save so that every WeCom corp tag has a Siyu tag with its ``wecom_id``, and how many tags
    were mapped anew: tags the corp made in WeCom before Siyu (or in WeCom's admin since) are not lost by the contact
    sync. Nothing goes back to WeCom: they exist there. Ids come from ``group_id_of``/``tag_id_of`` (derived from the
    WeCom ids, so two runs that race write the same groups).

    A WeCom group joins the Siyu group mirroring it, else the one of its name that mirrors no live WeCom group, else
    a new group (not exclusive: WeCom does not say). A tag joins the group's tag of its name if that one mirrors no
    live WeCom tag, else it is added. Names Siyu cannot hold (over 30 characters) and tags past the corp's 3000 are
    left out; a group whose name another live WeCom group's Siyu group holds is left out."""
    known = {t.wecom_id for g in taxonomy.groups for t in g.tags if t.wecom_id}
    live_tags = {w for _, _, tags in corp for w in tags.values()}
    live_groups = {gid for gid, _, _ in corp}
    groups = {g.group_id: g for g in taxonomy.groups}
    room = MAX_TAGS_PER_TENANT - taxonomy.count()
    changed: dict[str, TagGroup] = {}
    adopted = 0
    for wecom_gid, group_name, tags in corp:
        missing = [(n, w) for n, w in tags.items() if w and w not in known]
        name = group_name.strip()
        if not missing or not name or len(name) > MAX_TAG_NAME:
            continue
        group = next((g for g in groups.values() if g.wecom_group_id == wecom_gid), None) or next(
            (g for g in groups.values() if g.name == name and g.wecom_group_id not in live_groups), None
        )
        if group is None:
            if any(g.name == name for g in groups.values()):
                continue
            group = TagGroup(group_id_of(wecom_gid), name, created_at=created_at)
        before = group
        for tag_name, wecom_id in missing:
            tag_name = tag_name.strip()
            if not tag_name or len(tag_name) > MAX_TAG_NAME:
                continue
            same = group.find(tag_name)
            if same is not None and same.wecom_id in live_tags:
                continue  # the name is another live WeCom tag's
            if same is not None:
                tagged = tuple(replace(t, wecom_id=wecom_id) if t is same else t for t in group.tags)
                group = replace(group, tags=tagged)
            elif room > 0:
                group = with_tag(group, Tag(tag_id_of(wecom_id), tag_name, wecom_id))
                room -= 1
            else:
                continue
            known.add(wecom_id)
            adopted += 1
        if group != before:
            group = replace(group, wecom_group_id=wecom_gid)
            groups[group.group_id] = changed[group.group_id] = group
    return list(changed.values()), adopted
