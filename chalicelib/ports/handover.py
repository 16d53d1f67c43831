"""WeCom's 客户继承 APIs as Siyu calls them (adapters/wecom/handover.py implements it; the sandbox plays it):
在职继承 ``transfer_customer`` / ``transfer_result`` and 离职继承 ``get_unassigned_list`` /
``resigned/transfer_customer`` / ``resigned/transfer_result``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.ports.wecom import WeComCredentials

MAX_TRANSFER_CUSTOMERS = 100  # external_userid per transfer call
MAX_SUCCESS_MSG_CHARS = 200  # transfer_success_msg
# transfer_result's status per customer
TAKEN_OVER, WAITING, REFUSED, LIMIT_EXCEEDED, NO_RECORD = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class TransferAnswer:
    """One customer's answer to a transfer call: errcode 0 started the 24 h hand-over (not its success)."""

    external_userid: str
    errcode: int


@dataclass(frozen=True)
class TransferStatus:
    """One customer's hand-over as transfer_result reports it; ``takeover_time`` unix seconds (0 until done)."""

    external_userid: str
    status: int
    takeover_time: int = 0


@dataclass(frozen=True)
class UnassignedCustomer:
    """A resigned staff member's customer waiting for a new owner (get_unassigned_list)."""

    handover_userid: str
    external_userid: str
    dimission_time: int


@dataclass(frozen=True)
class ResultPage:
    customers: tuple[TransferStatus, ...]
    next_cursor: str = ""


@dataclass(frozen=True)
class UnassignedPage:
    customers: tuple[UnassignedCustomer, ...]
    next_cursor: str = ""
    is_last: bool = True


class HandoverPort(Protocol):
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
        """Start handing ≤ 100 customers over (``resigned``: 离职继承); InvalidError beyond the documented limits."""
        ...

    def transfer_results(
        self, creds: WeComCredentials, *, handover_userid: str, takeover_userid: str, resigned: bool, cursor: str = ""
    ) -> ResultPage: ...

    def unassigned_customers(
        self, creds: WeComCredentials, *, cursor: str = "", page_size: int = 1000
    ) -> UnassignedPage:
        """One page of resigned staff's customers waiting for a new owner."""
        ...
