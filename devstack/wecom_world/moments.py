"""客户朋友圈 (95094, 93333): add_moment_task, get_moment_task_result, get_moment_task, get_moment_customer_list and
get_moment_send_result, played from the world's follows and tags.

- add_moment_task answers a jobid at once; the job completes asynchronously, as WeCom's does: its first poll says
  1 (开始创建), the next 2 (正在创建), and it is 3 (创建完成, with the moment_id) from the third poll on or once
  ``JOB_SECONDS`` have passed on the world's clock.
- Visibility is computed when the job completes: a valid sender's customers (live follows) bearing any of the
  tags (all their customers when no tag is given). A sender who follows nobody and is not a corp member is invalid,
  as is an unknown tag; a job with no valid sender completes with errcode 40058 and no moment.
- A sender publishes from the phone (``publish``: the sandbox phone's 「发表朋友圈」); until then they are 0 (未发表)
  and the post reached no one. Publishing reaches the visible customers still friends then.
"""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet, page
from devstack.wecom_world.day_two_state import MomentTask
from devstack.wecom_world.state import Corp, WorldError, WorldState, digest

JOB_SECONDS = 5  # a job completes this long after add_moment_task (or at its third poll)
MAX_TEXT = 2000  # text.content characters
MAX_ATTACHMENTS = 9
MSGTYPES = ("image", "video", "link")


def add_moment_task(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    text = str((p.get("text") or {}).get("content") or "")
    attachments = [a for a in p.get("attachments") or [] if isinstance(a, dict)]
    if not text and not attachments:
        raise ApiError(44004)
    if len(text) > MAX_TEXT:
        raise ApiError(45002)
    if len(attachments) > MAX_ATTACHMENTS or any(a.get("msgtype") not in MSGTYPES for a in attachments):
        raise ApiError(40058)
    for a in attachments:
        body = a.get(str(a.get("msgtype"))) or {}
        if a.get("msgtype") != "link" and str(body.get("media_id") or "") not in corp.media:
            raise ApiError(40007)
    visible_range = p.get("visible_range") or {}
    senders = [str(u) for u in (visible_range.get("sender_list") or {}).get("user_list") or []]
    tags = [str(t) for t in (visible_range.get("external_contact_list") or {}).get("tag_list") or []]
    if not senders:
        raise ApiError(40058)  # the world has no application visibility range to fall back on
    jobid = "mj" + digest(corp.corp_id, "moment_job", world.next_seq())[:24]
    corp.moments[jobid] = MomentTask(
        jobid, world.now(), text=text, attachments=attachments, senders=list(dict.fromkeys(senders)), tag_ids=tags
    )
    return {"jobid": jobid}


def get_moment_task_result(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task = corp.moments.get(str(p.get("jobid") or ""))
    if task is None:
        raise ApiError(40058)
    task.polls += 1
    if not task.done and task.polls < 3 and world.now() - task.created_at < JOB_SECONDS:
        return {"status": task.polls, "type": "add_moment_task"}
    errcode = _complete(world, corp, task)
    result = {
        "errcode": errcode,
        "errmsg": "ok" if errcode == 0 else "invalid parameter",
        "moment_id": task.moment_id,
        "invalid_sender_list": {"user_list": task.invalid_senders, "department_list": []},
        "invalid_external_contact_list": {"tag_list": task.invalid_tags},
    }
    return {"status": 3, "type": "add_moment_task", "result": result}


def get_moment_task(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task = _moment(corp, p)
    rows = [{"userid": u, "publish_status": 1 if u in task.published else 0} for u in task.visible]
    shown, cursor = page(rows, p, 500, 1000)
    return {"next_cursor": cursor, "task_list": shown}


def get_moment_customer_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task, userid = _moment(corp, p), _userid(p)
    rows = [{"userid": userid, "external_userid": e} for e in task.visible.get(userid, [])]
    shown, cursor = page(rows, p, 500, 1000)
    return {"next_cursor": cursor, "customer_list": shown}


def get_moment_send_result(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    task, userid = _moment(corp, p), _userid(p)
    rows = [{"external_userid": e} for e in task.reached.get(userid, [])]
    shown, cursor = page(rows, p, 3000, 5000)
    return {"next_cursor": cursor, "customer_list": shown}


APIS = ApiSet(
    {
        "externalcontact/add_moment_task": add_moment_task,
        "externalcontact/get_moment_task_result": get_moment_task_result,
        "externalcontact/get_moment_task": get_moment_task,
        "externalcontact/get_moment_customer_list": get_moment_customer_list,
        "externalcontact/get_moment_send_result": get_moment_send_result,
    },
    read_only=frozenset(
        {
            "externalcontact/get_moment_task",
            "externalcontact/get_moment_customer_list",
            "externalcontact/get_moment_send_result",
        }
    ),
    from_query=frozenset({"externalcontact/get_moment_task_result"}),
)


# --- controls (world.py) ------------------------------------------------------------------------------------------


class MomentControls(WorldState):
    """WeComWorld's Moments controls: what a staff member does with a post on their phone."""

    def publish_moment(self, corp_id: str, moment_id: str, userid: str, *, now: float | None = None) -> list[str]:
        """The staff member publishes the post (发表朋友圈): the external_userids it reached."""
        with self.lock:
            return publish(self, self.corp(corp_id), moment_id, userid, self.now() if now is None else now)

    def pending_moments(self, corp_id: str, userid: str) -> list[dict[str, Any]]:
        """The staff member's posts waiting to be published (moment_id, text, visible)."""
        with self.lock:
            return pending(self.corp(corp_id), userid)


def publish(world: WorldState, corp: Corp, moment_id: str, userid: str, now: float) -> list[str]:
    """The sender publishes the post on their phone: it reaches their visible customers still friends. Returns the
    external_userids reached; publishing twice changes nothing."""
    task = next((t for t in corp.moments.values() if t.moment_id and t.moment_id == moment_id), None)
    if task is None or userid not in task.visible:
        raise WorldError(f"no Moments post {moment_id!r} for {userid!r}")
    if userid not in task.published:
        task.published[userid] = now
        task.reached[userid] = [e for e in task.visible[userid] if _friends(corp, e, userid)]
    return list(task.reached[userid])


def pending(corp: Corp, userid: str) -> list[dict[str, Any]]:
    """The staff member's Moments posts not published yet (the sandbox phone lists them)."""
    return [
        {"moment_id": t.moment_id, "text": t.text, "visible": len(t.visible[userid])}
        for t in corp.moments.values()
        if t.moment_id and userid in t.visible and userid not in t.published
    ]


def _complete(world: WorldState, corp: Corp, task: MomentTask) -> int:
    """Create the post once (computing who sees it); the errcode of the job's result."""
    if task.done:
        return task.errcode
    task.done = True
    task.invalid_tags = [t for t in task.tag_ids if t not in corp.tags]
    valid = [t for t in task.tag_ids if t in corp.tags]
    visible: dict[str, list[str]] = {}
    invalid = []
    for userid in task.senders:
        customers = [
            ext
            for ext, relations in sorted(corp.follows.items())
            if userid in relations
            and relations[userid].friends
            and (not task.tag_ids or any(t in relations[userid].tags for t in valid))
        ]
        follows_anyone = any(userid in relations for relations in corp.follows.values())
        if not follows_anyone and userid not in corp.members:
            invalid.append(userid)
        else:
            visible[userid] = customers
    task.invalid_senders = invalid
    if not visible:
        task.errcode = 40058
        return task.errcode
    task.visible = visible
    task.moment_id = "mo" + digest(corp.corp_id, "moment", world.next_seq())[:24]
    return 0


def _friends(corp: Corp, external_userid: str, userid: str) -> bool:
    follow = corp.follows.get(external_userid, {}).get(userid)
    return follow is not None and follow.friends


def _moment(corp: Corp, p: dict[str, Any]) -> MomentTask:
    moment_id = str(p.get("moment_id") or "")
    task = next((t for t in corp.moments.values() if t.moment_id and t.moment_id == moment_id), None)
    if task is None:
        raise ApiError(40058)
    return task


def _userid(p: dict[str, Any]) -> str:
    userid = str(p.get("userid") or "")
    if not userid:
        raise ApiError(41009)
    return userid
