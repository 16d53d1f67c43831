"""WeComClient's 客户继承 calls (ports/handover.py): 在职继承 ``externalcontact/transfer_customer`` and
``transfer_result`` (94081 / 94088), 离职继承 ``get_unassigned_list`` (92124), ``resigned/transfer_customer`` and
``resigned/transfer_result`` (94081 / 94082).

The documented limits (≤ 100 customers a call, a success message ≤ 200 characters, page_size ≤ 1000) are checked
before a call is spent. A transfer answers per customer; errcode 0 only starts the 24 h hand-over, whose outcome
transfer_result reports later (and the transfer_fail callback when it fails).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.ports.handover import (
    MAX_SUCCESS_MSG_CHARS,
    MAX_TRANSFER_CUSTOMERS,
    ResultPage,
    TransferAnswer,
    TransferStatus,
    UnassignedCustomer,
    UnassignedPage,
)

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

MAX_UNASSIGNED_PAGE = 1000


class HandoverMixin(ApiMixin):
    """The hand-over half of WeComClient; implements ports.handover.HandoverPort."""

    def transfer_customers(
        self,
        creds: WeComCredentials,
        *,
        handover_userid: str,
        takeover_userid: str,
        external_userids: list[str],
        resigned: bool = False,
        success_msg: str = "",
    ) -> list[TransferAnswer]:
        if not handover_userid or not takeover_userid:
            raise errors.InvalidError("a hand-over needs handover_userid and takeover_userid")
        if not 1 <= len(external_userids) <= MAX_TRANSFER_CUSTOMERS:
            raise errors.InvalidError(f"a transfer takes 1..{MAX_TRANSFER_CUSTOMERS} customers")
        if len(success_msg) > MAX_SUCCESS_MSG_CHARS:
            raise errors.InvalidError(f"transfer_success_msg is longer than {MAX_SUCCESS_MSG_CHARS} characters")
        body: dict[str, Any] = {
            "handover_userid": handover_userid,
            "takeover_userid": takeover_userid,
            "external_userid": list(external_userids),
        }
        if success_msg and not resigned:  # only 在职继承 sends the customer a message
            body["transfer_success_msg"] = success_msg
        api = "externalcontact/resigned/transfer_customer" if resigned else "externalcontact/transfer_customer"
        data = self._api(creds, api, body)
        return [
            TransferAnswer(str(c.get("external_userid", "")), int(c.get("errcode") or 0))
            for c in data.get("customer") or []
        ]

    def transfer_results(
        self, creds: WeComCredentials, *, handover_userid: str, takeover_userid: str, resigned: bool, cursor: str = ""
    ) -> ResultPage:
        body: dict[str, Any] = {"handover_userid": handover_userid, "takeover_userid": takeover_userid}
        if cursor:
            body["cursor"] = cursor
        api = "externalcontact/resigned/transfer_result" if resigned else "externalcontact/transfer_result"
        data = self._api(creds, api, body)
        rows = tuple(
            TransferStatus(
                str(c.get("external_userid", "")), int(c.get("status") or 0), int(c.get("takeover_time") or 0)
            )
            for c in data.get("customer") or []
        )
        return ResultPage(rows, str(data.get("next_cursor") or ""))

    def unassigned_customers(
        self, creds: WeComCredentials, *, cursor: str = "", page_size: int = 1000
    ) -> UnassignedPage:
        if not 1 <= page_size <= MAX_UNASSIGNED_PAGE:
            raise errors.InvalidError(f"page_size must be 1..{MAX_UNASSIGNED_PAGE}")
        body: dict[str, Any] = {"page_size": page_size}
        if cursor:
            body["cursor"] = cursor
        data = self._api(creds, "externalcontact/get_unassigned_list", body)
        rows = tuple(
            UnassignedCustomer(
                str(i.get("handover_userid", "")), str(i.get("external_userid", "")), int(i.get("dimission_time") or 0)
            )
            for i in data.get("info") or []
        )
        return UnassignedPage(rows, str(data.get("next_cursor") or ""), bool(data.get("is_last", True)))
