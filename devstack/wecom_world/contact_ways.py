"""联系我 (contact ways, 92228): add, update, get and delete a corp's contact ways."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.qr_images import qr_url
from devstack.wecom_world.state import MAX_NAME_CHARS, ContactWay, Corp, WorldState, digest

MAX_CONTACT_WAYS = 500_000  # per corp via the API (92228)
MAX_CONTACT_WAY_USERS = 100  # 41041


def add_contact_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    if len(corp.ways) + len(corp.join_ways) >= world.max_contact_ways:
        raise ApiError(41045)  # shared with the group join ways (92228)
    way_type, scene = _way_type_scene(p)
    users, state, remark = _way_fields(p, way_type, {})
    config_id = digest(corp.corp_id, "way", world.next_seq())[:32]
    corp.ways[config_id] = ContactWay(
        config_id=config_id,
        type=way_type,
        scene=scene,
        users=users,
        state=state,
        remark=remark,
        skip_verify=bool(p.get("skip_verify", True)),
        created_at=world.now(),
    )
    result: dict[str, Any] = {"config_id": config_id}
    if scene == 2:
        result["qr_code"] = qr_url(world, config_id)
    return result


def update_contact_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    way = _way(corp, p)
    users, state, remark = _way_fields(p, way.type, asdict(way))
    way.users, way.state, way.remark = users, state, remark
    if "skip_verify" in p:
        way.skip_verify = bool(p["skip_verify"])
    return {}


def get_contact_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    way = _way(corp, p)
    contact_way = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": list(way.users),
        "party": [],
    }
    if way.scene == 2:
        contact_way["qr_code"] = qr_url(world, way.config_id)
    return {"contact_way": contact_way}


def del_contact_way(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    del corp.ways[_way(corp, p).config_id]
    return {}


APIS = ApiSet(
    {
        "externalcontact/add_contact_way": add_contact_way,
        "externalcontact/update_contact_way": update_contact_way,
        "externalcontact/get_contact_way": get_contact_way,
        "externalcontact/del_contact_way": del_contact_way,
    },
    read_only=frozenset({"externalcontact/get_contact_way"}),
)


def _way(corp: Corp, p: dict[str, Any]) -> ContactWay:
    config_id = str(p.get("config_id") or "")
    if not config_id:
        raise ApiError(41043)
    way = corp.ways.get(config_id)
    if way is None:
        raise ApiError(41044)
    return way


def _way_type_scene(p: dict[str, Any]) -> tuple[int, int]:
    if "type" not in p:
        raise ApiError(41037)
    if "scene" not in p:
        raise ApiError(41038)
    if p["type"] not in (1, 2):
        raise ApiError(41039)
    if p["scene"] not in (1, 2):
        raise ApiError(41040)
    return int(p["type"]), int(p["scene"])


def _way_fields(p: dict[str, Any], way_type: int, current: dict[str, Any]) -> tuple[list[str], str, str]:
    users = [str(u) for u in p.get("user", current.get("users", [])) or []]
    state = str(p.get("state", current.get("state", "")))
    remark = str(p.get("remark", current.get("remark", "")))
    if not users:
        raise ApiError(40058)  # we model users only, no departments
    if len(users) > MAX_CONTACT_WAY_USERS:
        raise ApiError(41041)
    if way_type == 1 and len(users) != 1:
        raise ApiError(41039)  # a single-person way has exactly one user
    if len(state) > MAX_NAME_CHARS or len(remark) > MAX_NAME_CHARS:
        raise ApiError(40058)  # the docs give the limits (30) but no specific errcode
    return users, state, remark
