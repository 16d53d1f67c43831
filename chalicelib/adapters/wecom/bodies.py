"""Request bodies the client builds, after WeCom's documented limits: a message (welcome, mass message) and a
mass message's recipients, customers or group chats by ``chat_type``. A body over a limit is an InvalidError before
any call."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.domain.messages import Message

MAX_TEXT_BYTES = 4000  # welcome and mass-message text (92599, 92135)
MAX_ATTACHMENTS = 9  # (92599, 92135)
MAX_TEMPLATE_RECIPIENTS = 10_000  # add_msg_template external_userid[] with chat_type "single" (92135)
MAX_TEMPLATE_CHATS = 2_000  # add_msg_template chat_id_list[] with chat_type "group" (92135)


def message_body(message: Message) -> dict[str, Any]:
    """``text`` and ``attachments`` in WeCom's shape, after the documented limits."""
    if message.content_ids:  # content library references are resolved before a send (services/library_send.py)
        raise errors.InvalidError("a message's content_ids must be resolved before it is sent")
    if not message.text and not message.attachments:
        raise errors.InvalidError("a message needs text or an attachment")
    if len(message.text.encode()) > MAX_TEXT_BYTES:
        raise errors.InvalidError(f"message text exceeds {MAX_TEXT_BYTES} bytes (UTF-8)")
    if len(message.attachments) > MAX_ATTACHMENTS:
        raise errors.InvalidError(f"a message takes at most {MAX_ATTACHMENTS} attachments")
    body: dict[str, Any] = {}
    if message.text:
        body["text"] = {"content": message.text}
    if message.attachments:
        body["attachments"] = [attachment.to_wecom() for attachment in message.attachments]
    return body


def template_recipients(
    chat_type: str, external_userids: list[str] | None, chat_ids: list[str] | None
) -> dict[str, Any]:
    """add_msg_template's ``chat_type`` and its recipients: customers (``external_userid``, "single") or group
    chats (``chat_id_list``, "group"), never both, at least one, at most each one's limit."""
    if chat_type == "single":
        wanted, other, field, limit = external_userids, chat_ids, "external_userid", MAX_TEMPLATE_RECIPIENTS
    elif chat_type == "group":
        wanted, other, field, limit = chat_ids, external_userids, "chat_id_list", MAX_TEMPLATE_CHATS
    else:
        raise errors.InvalidError("chat_type must be single or group")
    name = "external_userid" if chat_type == "single" else "chat_id"
    if other:
        raise errors.InvalidError(f"add_msg_template with chat_type {chat_type} takes only {name}s")
    if not wanted:
        raise errors.InvalidError(f"add_msg_template needs at least one {name}")
    if len(wanted) > limit:
        raise errors.InvalidError(f"add_msg_template takes at most {limit} {name}s")
    return {"chat_type": chat_type, field: list(wanted)}
