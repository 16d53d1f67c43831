"""A recording WeCom for unit tests of the SOP kernel: ``add_msg_template`` answers with a msgid and remembers each
call (chat_type, sender, recipients), so a test sees exactly what the kernel asked WeCom to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.messages import Message
from chalicelib.ports import MsgTemplateResult, WeComCredentials


@dataclass(frozen=True)
class TemplateCall:
    chat_type: str
    sender: str
    recipients: tuple[str, ...]  # external_userids (single) or chat_ids (group)
    text: str
    msgid: str


class RecordingWeCom:
    """The mass-message calls the kernel makes; everything else of ``WeComPort`` is not needed by it."""

    def __init__(self) -> None:
        self.calls: list[TemplateCall] = []

    def add_msg_template(
        self,
        creds: WeComCredentials,
        *,
        sender: str,
        message: Message,
        chat_type: str = "single",
        external_userids: list[str] | None = None,
        chat_ids: list[str] | None = None,
    ) -> MsgTemplateResult:
        recipients = tuple(external_userids or ()) if chat_type == "single" else tuple(chat_ids or ())
        msgid = f"msg{len(self.calls) + 1:06d}"
        self.calls.append(TemplateCall(chat_type, sender, recipients, message.text, msgid))
        return MsgTemplateResult(msgid=msgid)

    def get_groupmsg_list(
        self,
        creds: WeComCredentials,
        *,
        start_time: int,
        end_time: int,
        creator: str = "",
        cursor: str = "",
        chat_type: str = "single",
    ) -> dict[str, Any]:
        made = [c for c in self.calls if (not creator or c.sender == creator) and c.chat_type == chat_type]
        rows = [{"msgid": c.msgid, "creator": c.sender, "text": {"content": c.text}} for c in made]
        return {"group_msg_list": rows}

    def get_groupmsg_send_result(
        self, creds: WeComCredentials, *, msgid: str, userid: str, cursor: str = ""
    ) -> dict[str, Any]:
        call = next((c for c in self.calls if c.msgid == msgid and c.sender == userid), None)
        field = "external_userid" if call is None or call.chat_type == "single" else "chat_id"
        return {"send_list": [{field: r, "userid": userid, "status": 0} for r in (call.recipients if call else ())]}
