"""What `make demo-week` needs before its week starts, made through the app's and the sandbox's HTTP surfaces: the
demo channels, a nurture plan with a 20% holdout attached to them, and a camp group Siyu has synced.

Each piece is looked up by name first and created only when missing, so re-running the week reuses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

PLAN_NAME = "新客7天培育（演示周·对照组20%）"
HOLDOUT_PERCENT = 20
CAMP_GROUP_NAME = "示例教育·考研冲刺营·演示·01"
PAGE = 100


@dataclass(frozen=True)
class ChannelSpec:
    """A demo channel: its share of the day's scans, its landing page's UV per scan, and its daily spend (yuan)."""

    name: str
    source: str
    campaign: str
    weight: float
    uv_per_scan: tuple[int, int]
    spend: tuple[int, int]


CHANNELS = (
    ChannelSpec("抖音-考研直播间", "douyin", "2027考研秋季", 0.5, (18, 30), (3000, 6000)),
    ChannelSpec("B站-考研公开课", "bilibili", "2027考研秋季", 0.3, (12, 22), (1500, 3000)),
    ChannelSpec("小红书-备考笔记", "xiaohongshu", "2027考研寒假", 0.2, (25, 40), (800, 1800)),
)

PLAN_STEPS = (  # service content goes out at any hour outside quiet hours (README, "Why these values")
    {
        "id": "s1",
        "after_minutes": 60,
        "content_type": "service",
        "message": {"text": "同学你好，考研资料包已经发你啦～"},
        "notes": "破冰：先问考研年份和目标院校",
    },
    {
        "id": "s2",
        "after_minutes": 1440,
        "content_type": "service",
        "message": {"text": "资料包里的规划表看了吗？有问题随时问我"},
    },
    {
        "id": "s3",
        "after_minutes": 4320,
        "content_type": "service",
        "message": {"text": "本周六晚8点公开课，要给你留个位置吗？"},
    },
)


class DemoError(RuntimeError):
    """A request of the demo driver failed; the message says which and what came back."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, text, or None


class Endpoint(Protocol):
    """One HTTP surface (the app's API or the WeCom sandbox): a request by path, its answer."""

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer: ...


def expect(answer: Answer, method: str, path: str, *ok: int) -> Any:
    """The answer's body when its status is one of ``ok``; DemoError otherwise."""
    if answer.status not in ok:
        shown = answer.body if isinstance(answer.body, str) else json.dumps(answer.body, ensure_ascii=False)
        raise DemoError(f"{method} {path} -> HTTP {answer.status}: {shown[:400]}")
    return answer.body


@dataclass
class Channel:
    channel_id: str
    state: str
    spec: ChannelSpec


@dataclass
class Setup:
    channels: list[Channel]
    plan_id: str
    chat_id: str
    staff: list[str]
    created: list[str] = field(default_factory=list)  # what this run had to make


def _items(api: Endpoint, token: str, path: str, *, paged: bool = True) -> list[dict[str, Any]]:
    """Every item of a listing (following its cursor when it is paginated)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        url = f"{path}{'&' if '?' in path else '?'}limit={PAGE}" if paged else path
        url += f"&cursor={cursor}" if cursor else ""
        page = expect(api("GET", url, token=token), "GET", url, 200)
        items.extend(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def prepare(api: Endpoint, sandbox: Endpoint, *, tenant_id: str, corp_id: str, token: str) -> Setup:
    """The channels, the holdout plan on them and the camp group, reusing whatever a previous run made."""
    base = f"/t/{tenant_id}"
    staff = [s["userid"] for s in _items(api, token, f"{base}/staff", paged=False) if s.get("userid")]
    if not staff:
        raise DemoError(f"tenant {tenant_id} has no staff: start the stack with `make run` (it seeds two)")
    made: list[str] = []

    plan_id = _plan(api, token, base, made)
    known = {c.get("name"): c for c in _items(api, token, f"{base}/channels")}
    channels: list[Channel] = []
    for spec in CHANNELS:
        found = known.get(spec.name)
        if found is None:
            body = {
                "name": spec.name,
                "source": spec.source,
                "campaign": spec.campaign,
                "staff": {"mode": "round_robin", "userids": staff, "backup_userid": staff[0]},
                "welcome": {"text": "同学你好，我是示例教育的老师，考研资料包稍后发你～"},
            }
            found = expect(api("POST", f"{base}/channels", body, token=token), "POST", f"{base}/channels", 200, 201)
            made.append(f"channel {spec.name}")
        if found.get("plan_id") != plan_id:
            path = f"{base}/channels/{found['channel_id']}"
            expect(api("PATCH", path, {"plan_id": plan_id}, token=token), "PATCH", path, 200)
        channels.append(Channel(found["channel_id"], found["state"], spec))

    chat_id = _camp_group(api, sandbox, token, base, corp_id, staff[0], made)
    return Setup(channels, plan_id, chat_id, staff, made)


def _plan(api: Endpoint, token: str, base: str, made: list[str]) -> str:
    plan = next((p for p in _items(api, token, f"{base}/plans") if p.get("name") == PLAN_NAME), None)
    if plan is None:
        body = {
            "name": PLAN_NAME,
            "goal": "体验课与正价课转化",
            "trigger": {"type": "manual"},
            "steps": list(PLAN_STEPS),
            "exit": [{"type": "order", "kind": "full"}],
            "holdout_percent": HOLDOUT_PERCENT,
        }
        plan = expect(api("POST", f"{base}/plans", body, token=token), "POST", f"{base}/plans", 200, 201)
        made.append(f"plan {PLAN_NAME}")
    plan_id = str(plan["plan_id"])
    if plan.get("status") != "published":
        path = f"{base}/plans/{plan_id}/publish"
        expect(api("POST", path, {}, token=token), "POST", path, 200)
    return plan_id


def _camp_group(
    api: Endpoint, sandbox: Endpoint, token: str, base: str, corp_id: str, owner: str, made: list[str]
) -> str:
    """The camp group: made in WeCom (the sandbox) when missing, then imported by Siyu's group sync."""
    path = f"/sandbox/groups?corp_id={corp_id}"
    groups = expect(sandbox("GET", path), "GET", path, 200).get("groups") or []
    group = next((g for g in groups if g.get("name") == CAMP_GROUP_NAME and not g.get("dismissed")), None)
    if group is None:
        body = {"corp_id": corp_id, "owner": owner, "name": CAMP_GROUP_NAME}
        group = expect(sandbox("POST", "/sandbox/groups", body), "POST", "/sandbox/groups", 200, 201)
        made.append(f"group {CAMP_GROUP_NAME}")
    chat_id = str(group["chat_id"])
    known = api("GET", f"{base}/groups/{chat_id}", token=token)
    if known.status == 404:
        expect(api("POST", f"{base}/groups/sync", token=token), "POST", f"{base}/groups/sync", 200, 201, 202)
    return chat_id
