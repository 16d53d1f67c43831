"""Messages: mass messages to customers or to customer groups (add_msg_template and their results, 92135, 93338)
and welcome messages (92599). A group task reaches the sender's own live groups; a group is counted against the
receive limit like a customer.

The control confirm_task plays the staff member confirming a mass-message task in their client; it runs under the
world's lock (WeComWorld wraps it).
"""

from __future__ import annotations

import calendar
import copy
import time
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet, page
from devstack.wecom_world.media import check_attachments
from devstack.wecom_world.state import (
    SEND_LIMIT,
    SEND_NOT_FRIEND,
    SEND_OK,
    STAFF_SENT,
    Corp,
    Recipient,
    Task,
    WorldError,
    WorldState,
    digest,
    record,
)

WELCOME_CODE_TTL = 20.0  # send_welcome_msg within 20 s of the event (92599)
MAX_TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
MAX_TEMPLATE_RECIPIENTS = 10_000
MAX_TEMPLATE_CHATS = 2_000  # chat_id_list with chat_type group (92135)
TASK_PAGE_DEFAULT, TASK_PAGE_MAX = 500, 1000  # get_groupmsg_task / send_result (93338)
LIST_PAGE_DEFAULT, LIST_PAGE_MAX = 50, 100  # get_groupmsg_list_v2 (93338)
LIST_MAX_SPAN = 31 * 86400  # get_groupmsg_list_v2 range
BEIJING = 8 * 3600  # month boundaries for receive limits are China time


def send_welcome_msg(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    code = str(p.get("welcome_code") or "")
    if not code:
        raise ApiError(41049)
    issued = corp.welcome_codes.get(code)
    if issued is None:
        raise ApiError(41050)
    if issued.used:
        raise ApiError(41051)  # delivered already: WeCom answers 41051 to a second call (92599)
    if world.now() - issued.issued_at > WELCOME_CODE_TTL:
        raise ApiError(41050)  # 欢迎语code具有时效性，须在添加好友后20秒内使用 (90313)
    text, attachments = _message(p)
    check_attachments(world, corp, attachments)  # 40007 for a media_id past its 3 days; the code stays unused
    issued.used = True
    record(corp, "message", world.now(), issued.userid, issued.external_userid)
    world.welcomes.append(
        {
            "corp_id": corp.corp_id,
            "userid": issued.userid,
            "external_userid": issued.external_userid,
            "text": text,
            "attachments": attachments,
        }
    )
    return {}


def add_msg_template(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    chat_type = p.get("chat_type", "single")
    if chat_type not in ("single", "group"):
        raise ApiError(40058)
    sender = str(p.get("sender") or "")
    if not sender:
        raise ApiError(41009)  # required for groups; the world requires it for customers too (WeCom: every staff)
    field, limit = (
        ("external_userid", MAX_TEMPLATE_RECIPIENTS) if chat_type == "single" else ("chat_id_list", MAX_TEMPLATE_CHATS)
    )
    requested = [str(x) for x in p.get(field) or []]
    if len(requested) > limit:
        raise ApiError(40058)
    text, attachments = _message(p)
    check_attachments(world, corp, attachments)  # 40007 for a media_id past its 3 days (or never uploaded)
    if chat_type == "group":
        # Only the sender's own live groups can receive it (92135: the owner confirms the task for their groups);
        # the others are the fail_list. Without chat_id_list: all of the sender's groups.
        if not requested:
            requested = [c.chat_id for c in corp.chats.values() if c.owner == sender and not c.dismissed]
        targets = list(dict.fromkeys(requested))
        reachable = [c for c in targets if _owns(corp, c, sender)]
    else:
        if not requested:  # only a sender: all of that staff member's customers
            requested = [ext for ext, rel in corp.follows.items() if sender in rel and rel[sender].friends]
        targets = list(dict.fromkeys(requested))
        reachable = [ext for ext in targets if _friends(corp, ext, sender)]
    if not reachable:
        raise ApiError(41048)
    msgid = "msg" + digest(corp.corp_id, "msg", world.next_seq())[:24]
    corp.tasks[msgid] = Task(
        msgid=msgid,
        corp_id=corp.corp_id,
        sender=sender,
        create_time=int(world.now()),
        text=text,
        attachments=attachments,
        recipients=[Recipient(x) for x in reachable],
        chat_type=chat_type,
    )
    world.task_corp[msgid] = corp.corp_id
    sendable = set(reachable)
    return {"fail_list": [x for x in targets if x not in sendable], "msgid": msgid}


def get_groupmsg_task(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task = _task(corp, p)
    row: dict[str, Any] = {"userid": task.sender, "status": task.status}
    if task.status == STAFF_SENT:
        row["send_time"] = task.send_time
    rows, cursor = page([row], p, TASK_PAGE_DEFAULT, TASK_PAGE_MAX)
    return {"next_cursor": cursor, "task_list": rows}


def get_groupmsg_send_result(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task = _task(corp, p)
    userid = str(p.get("userid") or "")
    if not userid:
        raise ApiError(41009)
    rows: list[dict[str, Any]] = []
    if userid == task.sender:
        field = "external_userid" if task.chat_type == "single" else "chat_id"  # group tasks report chats (93338)
        for r in task.recipients:
            row: dict[str, Any] = {field: r.external_userid, "userid": userid, "status": r.status}
            if r.status == SEND_OK:
                row["send_time"] = r.send_time
            rows.append(row)
    rows_page, cursor = page(rows, p, TASK_PAGE_DEFAULT, TASK_PAGE_MAX)
    return {"next_cursor": cursor, "send_list": rows_page}


def get_groupmsg_list_v2(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("chat_type") not in ("single", "group"):
        raise ApiError(40058)
    try:
        start, end = int(p["start_time"]), int(p["end_time"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(40058) from None
    if end < start or end - start > LIST_MAX_SPAN:
        raise ApiError(40058)  # the range may span at most one month
    creator = str(p.get("creator") or "")
    filter_type = int(p.get("filter_type", 2))
    tasks = sorted(corp.tasks.values(), key=lambda t: (t.create_time, t.msgid))
    rows = [
        {
            "msgid": t.msgid,
            "creator": t.sender,
            "create_time": t.create_time,
            "create_type": 0,  # created by the enterprise (API)
            "text": {"content": t.text},
            "attachments": copy.deepcopy(t.attachments),
        }
        for t in tasks
        if t.chat_type == p["chat_type"]
        and start <= t.create_time <= end
        and (not creator or t.sender == creator)
        and filter_type in (0, 2)
    ]
    rows_page, cursor = page(rows, p, LIST_PAGE_DEFAULT, LIST_PAGE_MAX)
    return {"next_cursor": cursor, "group_msg_list": rows_page}


APIS = ApiSet(
    {
        "externalcontact/send_welcome_msg": send_welcome_msg,
        "externalcontact/add_msg_template": add_msg_template,
        "externalcontact/get_groupmsg_task": get_groupmsg_task,
        "externalcontact/get_groupmsg_send_result": get_groupmsg_send_result,
        "externalcontact/get_groupmsg_list_v2": get_groupmsg_list_v2,
    },
    read_only=frozenset(
        {
            "externalcontact/get_groupmsg_task",
            "externalcontact/get_groupmsg_send_result",
            "externalcontact/get_groupmsg_list_v2",
        }
    ),
)


def confirm_task(world: WorldState, msgid: str, userid: str, *, now: float | None = None) -> dict[str, int]:
    """The staff member confirms the task (see WeComWorld.confirm_task). Returns status counts."""
    corp_id = world.task_corp.get(msgid)
    if corp_id is None:
        raise WorldError(f"unknown msgid {msgid}")
    corp = world.corps[corp_id]
    task = corp.tasks[msgid]
    if task.sender != userid:
        raise WorldError(f"task {msgid} belongs to another staff member")
    if task.status == STAFF_SENT:
        raise WorldError(f"task {msgid} was already sent")
    at = int(world.now() if now is None else now)
    year, month = time.gmtime(at + BEIJING)[:2]
    limit = corp.monthly_limit or calendar.monthrange(year, month)[1]
    counts = {"sent": 0, "not_friend": 0, "limit_hit": 0}
    for recipient in task.recipients:
        key = (recipient.external_userid, year, month)  # a group's receive count is kept under its chat_id
        if task.chat_type == "group":
            reachable = _owns(corp, recipient.external_userid, userid)  # still the sender's, not dismissed
        else:
            follow = corp.follows.get(recipient.external_userid, {}).get(userid)
            reachable = follow is not None and follow.friends
        if not reachable:
            recipient.status = SEND_NOT_FRIEND
            counts["not_friend"] += 1
        elif corp.received.get(key, 0) >= limit:
            recipient.status = SEND_LIMIT
            counts["limit_hit"] += 1
        else:
            corp.received[key] = corp.received.get(key, 0) + 1
            recipient.status = SEND_OK
            recipient.send_time = at
            counts["sent"] += 1
            kind = "group_message" if task.chat_type == "group" else "message"
            record(corp, kind, at, userid, recipient.external_userid, userid)
    task.status = STAFF_SENT
    task.send_time = at
    return counts


def _message(p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text_obj = p.get("text") or {}
    text = str(text_obj.get("content", "")) if isinstance(text_obj, dict) else ""
    attachments = list(p.get("attachments") or [])
    if not text and not attachments:
        raise ApiError(44004)
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise ApiError(45002)
    if len(attachments) > MAX_ATTACHMENTS:
        raise ApiError(40058)  # documented limit (9), no specific errcode
    return text, attachments


def _friends(corp: Corp, external_userid: str, userid: str) -> bool:
    follow = corp.follows.get(external_userid, {}).get(userid)
    return follow is not None and follow.friends


def _owns(corp: Corp, chat_id: str, userid: str) -> bool:
    chat = corp.chats.get(chat_id)
    return chat is not None and not chat.dismissed and chat.owner == userid


def _task(corp: Corp, p: dict[str, Any]) -> Task:
    msgid = str(p.get("msgid") or "")
    if not msgid:
        raise ApiError(41046)
    task = corp.tasks.get(msgid)
    if task is None:
        raise ApiError(41047)
    return task
