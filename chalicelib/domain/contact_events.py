"""Customer-contact events as WeCom delivers them, and the composite key that makes them idempotent.

WeCom retries up to 3 times and also sends duplicates after a 200. Keying on FromUserName+CreateTime alone (as some
SDKs did) merges two parents scanning one code in the same second, so the key spans every distinguishing field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidError

MAX_CREATE_TIME = 2**32 - 1  # unix seconds, early 2106: any real WeCom event is far inside

ADD = "add_external_contact"
ADD_HALF = "add_half_external_contact"
EDIT = "edit_external_contact"
DEL_EXTERNAL = "del_external_contact"
DEL_FOLLOW = "del_follow_user"
TRANSFER_FAIL = "transfer_fail"
HANDLED_CHANGE_TYPES = frozenset({ADD, ADD_HALF, EDIT, DEL_EXTERNAL, DEL_FOLLOW, TRANSFER_FAIL})
ADD_TYPES = frozenset({ADD, ADD_HALF})


@dataclass(frozen=True)
class ContactEvent:
    """One decrypted callback event. ``raw`` keeps the other fields for the ignored-event record."""

    event: str
    change_type: str
    userid: str
    external_userid: str
    create_time: int
    state: str = ""
    welcome_code: str = ""
    source: str = ""
    fail_reason: str = ""
    chat_id: str = ""

    @property
    def handled(self) -> bool:
        return self.event == "change_external_contact" and self.change_type in HANDLED_CHANGE_TYPES

    @property
    def is_add(self) -> bool:
        return self.change_type in ADD_TYPES

    def key(self) -> str:
        """The composite dedupe key: (Event, ChangeType, UserID/ChatId, ExternalUserID, CreateTime, extras)."""
        parts = (
            self.event,
            self.change_type,
            self.userid or self.chat_id,
            self.external_userid,
            str(self.create_time),
            self.source,
            self.fail_reason,
        )
        return "\x1f".join(parts)

    def digest(self) -> str:
        """A short, stable digest of the key: 24 hex chars is collision-free at any realistic event volume."""
        return hashlib.sha256(self.key().encode()).hexdigest()[:24]


def event_from_fields(fields: dict[str, Any]) -> ContactEvent:
    """Build an event from parsed callback XML fields. A missing, non-numeric or out-of-range CreateTime (before
    1970 or past MAX_CREATE_TIME, where date arithmetic and keys stop working) is invalid input, even when signed."""
    try:
        create_time = int(str(fields.get("CreateTime", "")).strip())
    except ValueError as exc:
        raise InvalidError("callback event has no valid CreateTime") from exc
    if not 0 <= create_time <= MAX_CREATE_TIME:
        raise InvalidError("callback event's CreateTime is out of range")
    return ContactEvent(
        event=str(fields.get("Event", "")),
        change_type=str(fields.get("ChangeType", "")),
        userid=str(fields.get("UserID", "")),
        external_userid=str(fields.get("ExternalUserID", "")),
        create_time=create_time,
        state=str(fields.get("State", "")),
        welcome_code=str(fields.get("WelcomeCode", "")),
        source=str(fields.get("Source", "")),
        fail_reason=str(fields.get("FailReason", "")),
        chat_id=str(fields.get("ChatId", "")),
    )
