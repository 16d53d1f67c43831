"""The world's persisted form: versioned JSON of every corp, the msgid -> corp map and the id sequence.

Type-directed, from the state dataclasses' annotations: a field added with a default is persisted and read back
(absent in older snapshots: the default) without touching this code; so the customer groups and join ways (客户群)
and a task's chat_type came without a version bump. Dicts with non-string keys (received counts) are
lists of [key, value] pairs; tuples are lists. JSON rather than pickle: the state is plain dataclasses, so the file
stays readable and loading it runs no code.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import types
import typing
from typing import Any

from devstack.wecom_world.state import Corp

SNAPSHOT_FORMAT = "siyu-wecom-world"
SNAPSHOT_VERSION = 1  # bump when a persisted field changes name, type or meaning


class SnapshotError(ValueError):
    """restore() refused the data: not JSON, not a world snapshot, another version, or fields of the wrong shape."""


def dump(seq: int, task_corp: dict[str, str], corps: dict[str, Corp]) -> bytes:
    """The snapshot bytes (UTF-8 JSON) of that state."""
    data = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "seq": seq,
        "task_corp": dict(task_corp),
        "corps": _encode(dict[str, Corp], corps),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def load(data: bytes) -> tuple[int, dict[str, str], dict[str, Corp]]:
    """(seq, task_corp, corps) from dump()'s bytes; SnapshotError for anything but a consistent snapshot of this
    version."""
    try:
        doc = json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SnapshotError(f"not a JSON world snapshot ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"not a WeCom world snapshot (format {SNAPSHOT_FORMAT!r} expected)")
    if doc.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(
            f"unsupported WeCom world snapshot version {doc.get('version')!r} (this world reads {SNAPSHOT_VERSION})"
        )
    unknown = set(doc) - {"format", "version", "seq", "task_corp", "corps"}
    if unknown:
        raise SnapshotError(f"snapshot: unknown field(s) {sorted(unknown)}")
    seq: int = _decode(int, doc.get("seq"), "seq")
    task_corp: dict[str, str] = _decode(dict[str, str], doc.get("task_corp"), "task_corp")
    corps: dict[str, Corp] = _decode(dict[str, Corp], doc.get("corps"), "corps")
    _check_snapshot(seq, task_corp, corps)
    return seq, task_corp, corps


_hints = functools.cache(typing.get_type_hints)


def _encode(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return copy.deepcopy(value)
    if _is_dataclass_type(tp):
        hints = _hints(tp)
        return {f.name: _encode(hints[f.name], getattr(value, f.name)) for f in dataclasses.fields(tp)}
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _encode(_optional(tp), value)
    if origin is dict:
        key_tp, value_tp = args
        if key_tp is str:
            return {k: _encode(value_tp, v) for k, v in value.items()}
        return [[_encode(key_tp, k), _encode(value_tp, v)] for k, v in value.items()]
    if origin is list or (origin is tuple and args[-1] is Ellipsis):
        return [_encode(args[0], v) for v in value]
    if origin is tuple:
        return [_encode(t, v) for t, v in zip(args, value, strict=True)]
    return value


def _decode(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value  # fresh from json.loads: nothing else holds it
    if _is_dataclass_type(tp):
        _expect(isinstance(value, dict), where, "an object")
        hints, fields = _hints(tp), dataclasses.fields(tp)
        unknown = set(value) - {f.name for f in fields}
        if unknown:
            raise SnapshotError(f"{where}: unknown field(s) {sorted(unknown)}")
        kwargs = {}
        for f in fields:
            if f.name in value:
                kwargs[f.name] = _decode(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SnapshotError(f"{where}: field {f.name!r} is missing")
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _decode(_optional(tp), value, where)
    if origin is dict:
        key_tp, value_tp = args
        if key_tp is str:
            _expect(isinstance(value, dict), where, "an object")
            return {k: _decode(value_tp, v, f"{where}[{k!r}]") for k, v in value.items()}
        _expect(isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value), where, "pairs")
        return {_decode(key_tp, k, f"{where} key"): _decode(value_tp, v, f"{where}[{k!r}]") for k, v in value}
    if origin in (list, tuple):
        _expect(isinstance(value, list), where, "a list")
        if origin is list or args[-1] is Ellipsis:
            items = [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        _expect(len(value) == len(args), where, f"{len(args)} items")
        return tuple(_decode(t, v, f"{where}[{i}]") for i, (t, v) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        _expect(isinstance(value, bool), where, "true or false")
    elif tp is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), where, "an integer")
    elif tp is float:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), where, "a number")
        return float(value)
    elif tp is str:
        _expect(isinstance(value, str), where, "a string")
    else:
        raise TypeError(f"the snapshot codec does not handle {tp!r} ({where})")  # a new field type: extend the codec
    return value


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _optional(tp: Any) -> Any:
    (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]  # only Optional unions are used
    return inner


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise SnapshotError(f"{where}: expected {what}")


def _check_snapshot(seq: int, task_corp: dict[str, str], corps: dict[str, Corp]) -> None:
    """The cross-references the world relies on (a broken one would surface later as a KeyError, i.e. HTTP 500)."""

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise SnapshotError(f"inconsistent snapshot: {what}")

    check(seq >= 0, "seq is negative")
    for corp_id, corp in corps.items():
        check(corp.corp_id == corp_id, f"corp {corp_id} is stored under another id")
        for key, way in corp.ways.items():
            check(way.config_id == key and bool(way.users), f"contact way {key} of {corp_id}")
        for key, group in corp.groups.items():
            check(group.group_id == key and all(t in corp.tags for t in group.tag_ids), f"tag group {key}")
        for key, tag in corp.tags.items():
            check(tag.tag_id == key and tag.group_id in corp.groups, f"tag {key} of {corp_id}")
        for external_userid, relations in corp.follows.items():
            for userid, follow in relations.items():
                ok = (follow.userid, follow.external_userid) == (userid, external_userid)
                check(ok and all(t in corp.tags for t in follow.tags), f"follow {userid}/{external_userid}")
        for msgid, task in corp.tasks.items():
            check(task.msgid == msgid and task.corp_id == corp_id, f"task {msgid} of {corp_id}")
        for chat_id, chat in corp.chats.items():
            check(chat.chat_id == chat_id and chat.owner in {m.userid for m in chat.members}, f"group {chat_id}")
        for config_id, join_way in corp.join_ways.items():
            rooms = [*join_way.chat_ids, *join_way.auto_chat_ids]
            ok = join_way.config_id == config_id and bool(join_way.chat_ids) and all(c in corp.chats for c in rooms)
            check(ok, f"join way {config_id} of {corp_id}")
    expected = {msgid: corp_id for corp_id, corp in corps.items() for msgid in corp.tasks}
    check(task_corp == expected, "task_corp does not match the corps' tasks")
