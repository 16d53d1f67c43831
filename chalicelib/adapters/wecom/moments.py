"""WeComClient's Moments calls (客户朋友圈, page 95094 and 93333): add_moment_task, get_moment_task_result,
get_moment_task, get_moment_customer_list and get_moment_send_result. A mixin like statistics.py: every call goes
through the client's ``_api``; the documented limits are checked before a call is spent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.ports.moments import MomentJob, MomentPage

if TYPE_CHECKING:
    from chalicelib.domain.messages import Message
    from chalicelib.ports import WeComCredentials

MAX_MOMENT_TEXT = 2000  # text.content: at most 2,000 characters ('invalid text size')
MAX_MOMENT_ATTACHMENTS = 9
MOMENT_MSGTYPES = ("image", "video", "link")
MAX_SENDERS = 100_000  # sender_list.user_list
TASK_LIMIT = 1000  # get_moment_task and get_moment_customer_list: at most 1,000 a page
SEND_RESULT_LIMIT = 5000  # get_moment_send_result: at most 5,000 a page


def moment_body(message: Message, senders: list[str], tag_ids: list[str]) -> dict[str, Any]:
    """add_moment_task's body, or InvalidError for what WeCom would refuse."""
    if not message.text and not message.attachments:
        raise errors.InvalidError("a Moments post needs text or an attachment")
    if len(message.text) > MAX_MOMENT_TEXT:
        raise errors.InvalidError(f"a Moments post's text is at most {MAX_MOMENT_TEXT} characters")
    if len(message.attachments) > MAX_MOMENT_ATTACHMENTS:
        raise errors.InvalidError(f"a Moments post takes at most {MAX_MOMENT_ATTACHMENTS} attachments")
    for attachment in message.attachments:
        if attachment.msgtype not in MOMENT_MSGTYPES:
            raise errors.InvalidError(f"a Moments post carries only {', '.join(MOMENT_MSGTYPES)} attachments")
        if attachment.msgtype != "link" and not attachment.body.get("media_id"):
            raise errors.InvalidError(f"a Moments {attachment.msgtype} needs a media_id")
    if not senders or len(senders) > MAX_SENDERS or not all(senders):
        raise errors.InvalidError(f"a Moments task takes 1..{MAX_SENDERS} senders")
    body: dict[str, Any] = {
        "visible_range": {
            "sender_list": {"user_list": list(dict.fromkeys(senders))},
            "external_contact_list": {"tag_list": list(dict.fromkeys(tag_ids))},
        }
    }
    if message.text:
        body["text"] = {"content": message.text}
    if message.attachments:
        body["attachments"] = [a.to_wecom() for a in message.attachments]
    return body


class MomentsMixin(ApiMixin):
    """The Moments half of WeComClient; implements ports.MomentsPort."""

    def add_moment_task(
        self, creds: WeComCredentials, *, message: Message, senders: list[str], tag_ids: list[str]
    ) -> str:
        data = self._api(creds, "externalcontact/add_moment_task", moment_body(message, senders, tag_ids))
        jobid = str(data.get("jobid") or "")
        if not jobid:
            raise errors.WeComTransportError("WeCom externalcontact/add_moment_task answered without jobid")
        return jobid

    def get_moment_task_result(self, creds: WeComCredentials, *, jobid: str) -> MomentJob:
        if not jobid:
            raise errors.InvalidError("jobid is required")
        data = self._api(creds, "externalcontact/get_moment_task_result", None, method="GET", query={"jobid": jobid})
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        assert isinstance(result, dict)
        senders = (result.get("invalid_sender_list") or {}).get("user_list") or []
        tags = (result.get("invalid_external_contact_list") or {}).get("tag_list") or []
        return MomentJob(
            status=int(data.get("status") or 0),
            errcode=int(result.get("errcode") or 0),
            moment_id=str(result.get("moment_id") or ""),
            invalid_senders=tuple(str(s) for s in senders),
            invalid_tags=tuple(str(t) for t in tags),
        )

    def get_moment_task(self, creds: WeComCredentials, *, moment_id: str, cursor: str = "") -> MomentPage:
        body = {"moment_id": _moment(moment_id), "cursor": cursor, "limit": TASK_LIMIT}
        return _page(self._api(creds, "externalcontact/get_moment_task", body), "task_list")

    def get_moment_customer_list(
        self, creds: WeComCredentials, *, moment_id: str, userid: str, cursor: str = ""
    ) -> MomentPage:
        body = {"moment_id": _moment(moment_id), "userid": _user(userid), "cursor": cursor, "limit": TASK_LIMIT}
        return _page(self._api(creds, "externalcontact/get_moment_customer_list", body), "customer_list")

    def get_moment_send_result(
        self, creds: WeComCredentials, *, moment_id: str, userid: str, cursor: str = ""
    ) -> MomentPage:
        body = {
            "moment_id": _moment(moment_id),
            "userid": _user(userid),
            "cursor": cursor,
            "limit": SEND_RESULT_LIMIT,
        }
        return _page(self._api(creds, "externalcontact/get_moment_send_result", body), "customer_list")


def _moment(moment_id: str) -> str:
    if not moment_id:
        raise errors.InvalidError("moment_id is required")
    return moment_id


def _user(userid: str) -> str:
    if not userid:
        raise errors.InvalidError("userid is required")
    return userid


def _page(data: dict[str, Any], name: str) -> MomentPage:
    rows = tuple(row for row in data.get(name) or [] if isinstance(row, dict))
    return MomentPage(rows=rows, next_cursor=str(data.get("next_cursor") or ""))
