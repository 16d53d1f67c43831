"""Finding the WeCom task a crashed attempt may have created (issue 9 §2): by its recipients, not by a time window.

``add_msg_template`` has no idempotency key. A task whose call may have reached WeCom (a crash after it, an answer
lost to a timeout) is looked for among the mass messages its sender created since its claim with its text
(``get_groupmsg_list_v2``), and each one's recipients are read (``get_groupmsg_send_result``, every page). Only a
WeCom task whose recipients are the task's claimed recipients qualifies: all of them but those WeCom could not reach
(its ``fail_list``: no longer a friend), and no one else. The recovery fire's own task after a quick restart carries
other touches (a touch is claimed once), so it never qualifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.domain.sop import StaffTask
from chalicelib.ports import WeComCredentials, WeComPort

LOOKBACK_SECONDS = 60  # WeCom's create_time is its own clock's: allow it to run a little behind ours
MAX_PAGES = 50  # a runaway cursor never keeps reconciliation busy for good


def _pages(fetch: Any, key: str) -> Iterator[dict[str, Any]]:
    cursor = ""
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        yield from page.get(key) or []
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            return


def recipients_of(wecom: WeComPort, creds: WeComCredentials, msgid: str, sender: str) -> set[str]:
    """A WeCom task's recipients (external_userid for customers, chat_id for group chats), every page read."""
    rows = _pages(lambda c: wecom.get_groupmsg_send_result(creds, msgid=msgid, userid=sender, cursor=c), "send_list")
    return {str(r.get("external_userid") or r.get("chat_id") or "") for r in rows} - {""}


def adoptable(
    wecom: WeComPort,
    creds: WeComCredentials,
    task: StaffTask,
    addresses: set[str],
    now: datetime,
    *,
    chat_type: str = "single",
) -> list[tuple[str, set[str]]]:
    """The WeCom tasks (msgid, recipients) that may be this task's: same ``chat_type``, sender and text, created
    since its claim, recipients a non-empty part of ``addresses`` (its claimed recipients). Exact matches first, then
    the largest."""
    start = int(datetime.fromisoformat(task.created_at).timestamp()) - LOOKBACK_SECONDS
    messages = _pages(
        lambda c: wecom.get_groupmsg_list(
            creds, start_time=start, end_time=int(now.timestamp()), creator=task.userid, cursor=c, chat_type=chat_type
        ),
        "group_msg_list",
    )
    found = []
    for message in messages:
        if (message.get("text") or {}).get("content", "") != task.text:
            continue
        if message.get("creator") not in (None, task.userid):
            continue
        carried = recipients_of(wecom, creds, str(message["msgid"]), task.userid)
        if carried and carried <= addresses:
            found.append((str(message["msgid"]), carried))
    return sorted(found, key=lambda f: (f[1] != addresses, -len(f[1]), f[0]))
