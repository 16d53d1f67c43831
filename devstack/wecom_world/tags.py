"""Corp tags (92117) and marking a customer with them (92697)."""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import MAX_NAME_CHARS, Corp, Tag, TagGroup, WorldState, digest

MAX_CORP_TAGS = 3000  # 40126 (90313, 92117)


def get_corp_tag_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    group_ids, tag_ids = set(p.get("group_id") or []), set(p.get("tag_id") or [])
    groups = []
    for group in corp.groups.values():
        if group_ids and group.group_id not in group_ids:
            continue
        ids = group.tag_ids if group_ids or not tag_ids else [t for t in group.tag_ids if t in tag_ids]
        if ids or not tag_ids:
            groups.append(_group_json(corp, group, ids))
    return {"tag_group": groups}


def add_corp_tag(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    names = [str(t.get("name", "")) for t in p.get("tag") or [] if isinstance(t, dict)]
    if not names:
        raise ApiError(40058)
    group_id, group_name = str(p.get("group_id") or ""), str(p.get("group_name") or "")
    for name in names + ([group_name] if group_name else []):
        _check_tag_name(name)
    if group_id:
        group = corp.groups.get(group_id)
        if group is None:
            raise ApiError(40068)
    elif group_name:
        # An existing group of that name receives the tags (92117).
        group = next((g for g in corp.groups.values() if g.name == group_name), None)
    else:
        raise ApiError(40058)
    existing = {corp.tags[t].name for t in group.tag_ids} if group else set()
    if len(set(names)) != len(names) or existing & set(names):
        raise ApiError(40071)
    if len(corp.tags) + len(names) > world.max_tags:
        raise ApiError(40126)
    now = int(world.now())
    if group is None:
        group = TagGroup("et" + digest(corp.corp_id, "group", world.next_seq())[:20], group_name, now)
        corp.groups[group.group_id] = group
    created = []
    for name in names:
        tag = Tag("et" + digest(corp.corp_id, "tag", world.next_seq())[:20], name, group.group_id, now)
        corp.tags[tag.tag_id] = tag
        group.tag_ids.append(tag.tag_id)
        created.append(tag.tag_id)
    return {"tag_group": _group_json(corp, group, created)}


def edit_corp_tag(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    target = str(p.get("id") or "")
    name = p.get("name")
    if target in corp.tags:
        tag = corp.tags[target]
        siblings = {corp.tags[t].name for t in corp.groups[tag.group_id].tag_ids if t != target}
        item: Tag | TagGroup = tag
    elif target in corp.groups:
        siblings = {g.name for g in corp.groups.values() if g.group_id != target}
        item = corp.groups[target]
    else:
        raise ApiError(40068)
    if name is not None:
        _check_tag_name(str(name))
        if name in siblings:
            raise ApiError(40071)
        item.name = str(name)
    if "order" in p:
        item.order = int(p["order"])
    return {}


def del_corp_tag(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    tag_ids, group_ids = list(p.get("tag_id") or []), list(p.get("group_id") or [])
    if not tag_ids and not group_ids:
        raise ApiError(40058)  # tag_id and group_id cannot both be empty (92117)
    if any(t not in corp.tags for t in tag_ids) or any(g not in corp.groups for g in group_ids):
        raise ApiError(40068)
    doomed = set(tag_ids)
    for group_id in group_ids:
        doomed.update(corp.groups[group_id].tag_ids)
    for tag_id in doomed:
        tag = corp.tags.pop(tag_id)
        group = corp.groups.get(tag.group_id)
        if group is not None:
            group.tag_ids.remove(tag_id)
            if not group.tag_ids:  # a group without tags is deleted with its last tag
                del corp.groups[group.group_id]
    for relations in corp.follows.values():
        for follow in relations.values():
            follow.tags = [t for t in follow.tags if t not in doomed]
    return {}


def mark_tag(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    userid, external_userid = str(p.get("userid") or ""), str(p.get("external_userid") or "")
    if not userid:
        raise ApiError(41009)
    if not external_userid:
        raise ApiError(41035)
    add, remove = list(p.get("add_tag") or []), list(p.get("remove_tag") or [])
    if not add and not remove:
        raise ApiError(40058)  # "add_tag and remove_tag cannot both be empty" (92697), no specific errcode
    follow = corp.follows.get(external_userid, {}).get(userid)
    if follow is None or not follow.active:
        raise ApiError(84061)
    if any(tag_id not in corp.tags for tag_id in add + remove):
        raise ApiError(40068)
    follow.tags = [t for t in dict.fromkeys(follow.tags + add) if t not in remove]
    return {}


APIS = ApiSet(
    {
        "externalcontact/mark_tag": mark_tag,
        "externalcontact/get_corp_tag_list": get_corp_tag_list,
        "externalcontact/add_corp_tag": add_corp_tag,
        "externalcontact/edit_corp_tag": edit_corp_tag,
        "externalcontact/del_corp_tag": del_corp_tag,
    },
    read_only=frozenset({"externalcontact/get_corp_tag_list"}),
)


def _group_json(corp: Corp, group: TagGroup, tag_ids: list[str]) -> dict[str, Any]:
    tags = [corp.tags[t] for t in tag_ids]
    return {
        "group_id": group.group_id,
        "group_name": group.name,
        "create_time": group.create_time,
        "order": group.order,
        "tag": [{"id": t.tag_id, "name": t.name, "create_time": t.create_time, "order": t.order} for t in tags],
    }


def _check_tag_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_CHARS:
        raise ApiError(40072)
