"""The bulk read of a corp's existing contacts (issue 14 §1, services/contact_sync.py), re-exported by
chalicelib.ports: ``externalcontact/get_follow_user_list`` and ``externalcontact/batch/get_by_user``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.ports.wecom import ExternalProfile, WeComCredentials

MAX_BATCH_USERIDS = 100  # batch/get_by_user userid_list (page 92994)
MAX_BATCH_LIMIT = 100  # batch/get_by_user limit (page 92994)


@dataclass(frozen=True)
class ContactPage:
    """One page of batch/get_by_user: each row a contact with the one relation (``follow_users[0]``) it stands for
    (a contact two listed staff hold is two rows), and WeCom's cursor ("" on the last page)."""

    contacts: tuple[ExternalProfile, ...]
    next_cursor: str = ""


class ContactListPort(Protocol):
    def get_follow_user_list(self, creds: WeComCredentials) -> list[str]:
        """The staff with the customer-contact permission (配置了客户联系功能的成员)."""
        ...

    def batch_get_by_user(
        self, creds: WeComCredentials, *, userids: list[str], cursor: str = "", limit: int = MAX_BATCH_LIMIT
    ) -> ContactPage:
        """One page of the contacts of ``userids`` (1..100), ``limit`` (1..100) rows at most."""
        ...
