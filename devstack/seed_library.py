"""The demo tenant's libraries: a few scripts (话术库) per stage and scene, so the chat sidebar has what to show from
the first `make run`, and two content items (素材库) a step or a welcome can name (docs/content.md). Made through the
app's HTTP API, each library only when the tenant has none, so ops' own edits are never overwritten and a re-run
changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Call = Callable[..., tuple[int, Any]]  # seed.py's checked HTTP call: (method, url, *, ok, token, body)

DEMO_SCRIPTS: tuple[dict[str, Any], ...] = (
    {"stage": "new", "scene": "icebreak", "title": "加好友后问候", "order": 1,
     "text": "同学你好～我是你的考研规划老师，资料包已经发你了。方便说下你是哪年考、目标院校是哪所吗？"},
    {"stage": "new", "scene": "discovery", "title": "了解备考情况", "order": 1,
     "text": "现在复习到哪一步了？数学和英语哪一科最让你头疼？我帮你看看从哪里下手最省时间。"},
    {"stage": "nurturing", "scene": "discovery", "title": "公开课后回访", "order": 1,
     "text": "昨晚的公开课听得怎么样？有没有哪一段想再讲一遍的，我把回放和讲义发你。"},
    {"stage": "hot", "scene": "objection", "title": "价格顾虑", "order": 1,
     "text": "理解的～体验课 9.9 元，上完觉得不合适可以不报正课；很多同学是上完体验课才决定的。"},
    {"stage": "hot", "scene": "closing", "title": "体验课名额", "order": 1,
     "text": "本周六的体验课还剩最后几个名额，我先帮你占一个？报名链接发你。"},
    {"stage": "trial", "scene": "closing", "title": "体验课后转正", "order": 1,
     "text": "体验课的学习报告出来了，你的强项和短板都很清楚。正课这周报名有早鸟价，需要我给你讲讲安排吗？"},
)  # fmt: skip


def seed_scripts(call: Call, base: str, token: str) -> int:
    """Create the demo scripts when the tenant has none; the number created (0: it had some)."""
    _, listing = call("GET", f"{base}/scripts", ok=(200,), token=token)
    if isinstance(listing, dict) and listing.get("items"):
        return 0
    for script in DEMO_SCRIPTS:
        call("POST", f"{base}/scripts", ok=(200, 201), token=token, body=script)
    return len(DEMO_SCRIPTS)


DEMO_CONTENT: tuple[dict[str, Any], ...] = (
    {"kind": "text", "title": "资料包领取说明", "stage": "new", "scene": "icebreak", "tags": ["资料包"],
     "text": "资料包里有：考研规划表、近五年真题、每日一练。先看规划表，把目标院校和每天能学的时间告诉我～"},
    {"kind": "link", "title": "9.9元体验课报名", "stage": "hot", "scene": "closing", "tags": ["体验课"],
     "url": "https://example.com/trial", "text": "三节直播课 + 学习报告，上完再决定要不要报正课"},
)  # fmt: skip


def seed_content(call: Call, base: str, token: str) -> int:
    """Create the demo content items when the tenant has none; the number created (0: it had some)."""
    _, listing = call("GET", f"{base}/content?limit=1", ok=(200,), token=token)
    if isinstance(listing, dict) and listing.get("items"):
        return 0
    for item in DEMO_CONTENT:
        call("POST", f"{base}/content", ok=(200, 201), token=token, body=item)
    return len(DEMO_CONTENT)
