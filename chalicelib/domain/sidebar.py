"""What the chat sidebar (聊天工具栏) shows of a customer that is a rule rather than a read: which step of an active
plan comes next (its 话术 is what the staff member is about to say), and what counts as an external userid.

Pure: the service hands in the plan version and the customer's newest timeline entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.sop import next_step
from chalicelib.errors import InvalidError

# WeCom's external userids: wm… (a WeChat user) or wo… (a WeCom user of another corp); the JS-SDK hands one over.
EXTERNAL_USERID_RE = re.compile(r"^w[mo][0-9A-Za-z_-]{1,62}$")


def check_external_userid(value: str) -> str:
    if EXTERNAL_USERID_RE.fullmatch(value) is None:
        raise InvalidError("这不是企业微信外部联系人的 ID（应以 wm 或 wo 开头）。")
    return value


def upcoming_step(
    plan: Plan, enrollment_id: str, entries: Sequence[Mapping[str, Any]], *, whole_story: bool
) -> Step | None:
    """The step of ``plan`` the enrollment will touch next, judged from the customer's timeline ``entries`` (public
    entries, newest first): the step after the newest touch of this enrollment (sent, skipped or dropped alike: each
    closes its step), or the first step when the entries reach back to the run's start (``enrolled``) or hold the
    customer's whole story and no touch of the run. None when the plan is done, or when the entries end before the
    run's latest touch and start (a long history read in part): better to show no script than the wrong one."""
    prefix = f"{enrollment_id}#"
    for entry in entries:
        detail = entry.get("detail") or {}
        if entry.get("type") == "touch" and str(detail.get("touch", "")).startswith(prefix):
            return next_step(plan, str(detail.get("step_id", "")))
        if entry.get("type") == "enrolled" and detail.get("enrollment_id") == enrollment_id:
            return plan.steps[0] if plan.steps else None
    return plan.steps[0] if whole_story and plan.steps else None
