"""Checks of documented limits made before a WeCom call is spent, and readers of WeCom's answers (client.py's)."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.ports import CorpTagGroup, FollowUser

MAX_STATE_CHARS = 30  # add_contact_way / add_join_way state (92228)
MAX_REMARK_CHARS = 30  # contact way remark (92228)
MAX_CONTACT_WAY_USERS = 100  # 41041: 「联系我」使用人数超过限制 (90313)
MAX_TAG_NAME_CHARS = 30  # corp tag and group names (92117)


def check_contact_way(users: list[str], state: str, remark: str) -> None:
    if not users:
        raise errors.InvalidError("a contact way needs at least one user")
    if len(users) > MAX_CONTACT_WAY_USERS:
        raise errors.InvalidError(f"a contact way takes at most {MAX_CONTACT_WAY_USERS} users")
    if len(state) > MAX_STATE_CHARS:
        raise errors.InvalidError(f"state is longer than {MAX_STATE_CHARS} characters")
    if len(remark) > MAX_REMARK_CHARS:
        raise errors.InvalidError(f"remark is longer than {MAX_REMARK_CHARS} characters")


def check_tag_name(name: str, what: str) -> None:
    if not name or len(name) > MAX_TAG_NAME_CHARS:
        raise errors.InvalidError(f"{what} must be 1..{MAX_TAG_NAME_CHARS} characters")


def follow_user(item: dict[str, Any]) -> FollowUser:
    return FollowUser(
        userid=str(item.get("userid", "")),
        remark=str(item.get("remark", "")),
        state=str(item.get("state", "")),
        createtime=int(item.get("createtime") or 0),
        remark_mobiles=tuple(str(m) for m in item.get("remark_mobiles") or []),
        tag_ids=tuple(str(t["tag_id"]) for t in item.get("tags") or [] if t.get("tag_id")),
        add_way=int(item.get("add_way") or 0),
    )


def tag_group(group: dict[str, Any]) -> CorpTagGroup:
    tags = {str(t["name"]): str(t["id"]) for t in group.get("tag") or [] if not t.get("deleted")}
    return CorpTagGroup(group_id=str(group.get("group_id", "")), group_name=str(group.get("group_name", "")), tags=tags)


def errcode_of(data: dict[str, Any], api: str) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        raise errors.WeComTransportError(f"WeCom {api} answered a non-numeric errcode") from None


def required_str(data: dict[str, Any], name: str, api: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise errors.WeComTransportError(f"WeCom {api} answered without {name}")
    return value


def payload_of(data: dict[str, Any]) -> dict[str, Any]:
    """An answer without its errcode and errmsg."""
    return {k: v for k, v in data.items() if k not in ("errcode", "errmsg")}


def require(value: str, name: str) -> None:
    if not value:
        raise errors.InvalidError(f"{name} is required")
