"""WeComClient's bulk read of existing contacts (the first contact sync, services/contact_sync.py):
``externalcontact/get_follow_user_list`` (GET, page 92571) and ``externalcontact/batch/get_by_user`` (page 92994).

A mixin over the client's ``_api`` (token, retries, errcode mapping: 45009/45033 raise WeComRateLimitError, never
retried here; the sync's job backs off). The documented limits are checked before a call is spent: userid_list
1..100, limit 1..100.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.ports.contacts import MAX_BATCH_LIMIT, MAX_BATCH_USERIDS, ContactPage
from chalicelib.ports.wecom import ExternalProfile, FollowUser

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials


class ContactListMixin(ApiMixin):
    """The existing-contacts half of WeComClient (see the module docstring)."""

    def get_follow_user_list(self, creds: WeComCredentials) -> list[str]:
        data = self._api(creds, "externalcontact/get_follow_user_list", None, method="GET")
        return [str(u) for u in data.get("follow_user") or [] if u]

    def batch_get_by_user(
        self, creds: WeComCredentials, *, userids: list[str], cursor: str = "", limit: int = MAX_BATCH_LIMIT
    ) -> ContactPage:
        if not 1 <= len(userids) <= MAX_BATCH_USERIDS:
            raise errors.InvalidError(f"batch/get_by_user takes 1..{MAX_BATCH_USERIDS} userids")
        if not 1 <= limit <= MAX_BATCH_LIMIT:
            raise errors.InvalidError(f"batch/get_by_user limit must be 1..{MAX_BATCH_LIMIT}")
        body: dict[str, Any] = {"userid_list": list(userids), "limit": limit}
        if cursor:
            body["cursor"] = cursor
        data = self._api(creds, "externalcontact/batch/get_by_user", body)
        rows = [r for r in data.get("external_contact_list") or [] if isinstance(r, dict)]
        return ContactPage(
            contacts=tuple(_contact(r) for r in rows if isinstance(r.get("external_contact"), dict)),
            next_cursor=str(data.get("next_cursor") or ""),
        )


def _contact(row: dict[str, Any]) -> ExternalProfile:
    contact: dict[str, Any] = row["external_contact"]
    info: dict[str, Any] = row.get("follow_info") or {}
    follow = FollowUser(
        userid=str(info.get("userid", "")),
        remark=str(info.get("remark", "")),
        state=str(info.get("state", "")),
        createtime=int(info.get("createtime") or 0),
        remark_mobiles=tuple(str(m) for m in info.get("remark_mobiles") or []),
        tag_ids=tuple(str(t) for t in info.get("tag_id") or [] if t),
        add_way=int(info.get("add_way") or 0),
    )
    return ExternalProfile(
        external_userid=str(contact.get("external_userid", "")),
        name=str(contact.get("name", "")),
        type=int(contact.get("type") or 1),
        gender=int(contact.get("gender") or 0),
        avatar=str(contact.get("avatar", "")),
        unionid=str(contact.get("unionid", "")),
        corp_name=str(contact.get("corp_name", "")),
        follow_users=(follow,),
    )
