"""A recording fake of WeCom's join-way calls, for the group-code tests that check exactly what was asked of WeCom
(each call kept, in order) or need a push that fails on demand (``fail_updates``). Rotation end to end, people
joining through the code, plays WeCom with the sandbox (tests/functional/test_groups_api.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import UpstreamError
from chalicelib.group_ports import JoinWay
from chalicelib.ports import WeComCredentials


@dataclass
class FakeJoinWays:
    ways: dict[str, JoinWay] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_updates: int = 0  # the next this-many update_join_way calls fail as WeCom being down would
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, api: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == api]

    def add_join_way(self, creds: WeComCredentials, **kw: Any) -> str:
        with self.lock:
            config_id = f"cfg{len(self.ways) + 1:04d}"
            self.calls.append(("add_join_way", kw))
            self.ways[config_id] = _way(config_id, f"https://wework.qpic.cn/fake/{config_id}.png", kw)
            return config_id

    def get_join_way(self, creds: WeComCredentials, config_id: str) -> JoinWay:
        with self.lock:
            self.calls.append(("get_join_way", {"config_id": config_id}))
            return self.ways[config_id]

    def update_join_way(self, creds: WeComCredentials, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("update_join_way", kw))
            if self.fail_updates:
                self.fail_updates -= 1
                raise UpstreamError("WeCom is down")
            old = self.ways[kw["config_id"]]
            self.ways[old.config_id] = _way(old.config_id, old.qr_code, kw)

    def del_join_way(self, creds: WeComCredentials, config_id: str) -> None:
        with self.lock:
            self.calls.append(("del_join_way", {"config_id": config_id}))
            self.ways.pop(config_id, None)


def _way(config_id: str, qr_code: str, kw: dict[str, Any]) -> JoinWay:
    """The join way an add or an update describes (WeCom's update takes the whole configuration)."""
    return JoinWay(
        config_id=config_id,
        scene=kw.get("scene", 2),
        qr_code=qr_code,
        chat_ids=tuple(kw["chat_ids"]),
        auto_create_room=kw.get("auto_create_room", True),
        room_base_name=kw["room_base_name"],
        room_base_id=kw["room_base_id"],
        state=kw["state"],
        remark=kw.get("remark", ""),
    )
