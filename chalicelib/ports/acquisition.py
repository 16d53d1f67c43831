"""The port of WeCom's acquisition links (获客助手, 获客链接管理 page 97297, quota page 97375): a link a customer opens
in WeChat to add a staff member of the link's range. Its own Protocol like the statistics port; WeComPort includes it
and WeComClient implements it (adapters/wecom/acquisition.py).

A link carries no ``state`` of its own: whoever hands the URL out appends ``customer_channel=<value>`` (≤ 64 bytes),
and the add callback (and ``customer_acquisition/customer``) report that value as the relation's State.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.ports.wecom import WeComCredentials


@dataclass(frozen=True)
class AcquisitionLink:
    """A link as WeCom describes it (create_link's ``link``; ``get``'s ``link`` + ``range``)."""

    link_id: str
    link_name: str
    url: str
    create_time: int = 0
    skip_verify: bool = True
    userids: tuple[str, ...] = ()
    department_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class LinkCustomer:
    """One customer added through a link (``customer_acquisition/customer``): chat_status 0 no message yet, 1 the
    customer wrote, 2 unknown; state is the URL's customer_channel."""

    external_userid: str
    userid: str
    chat_status: int = 0
    state: str = ""


@dataclass(frozen=True)
class QuotaBatch:
    expire_date: int
    balance: int


@dataclass(frozen=True)
class AcquisitionQuota:
    """customer_acquisition_quota: the corp's purchased adds (total), what is left (balance), batch by expiry."""

    total: int
    balance: int
    batches: tuple[QuotaBatch, ...] = ()


class AcquisitionLinkPort(Protocol):
    def create_link(
        self, creds: WeComCredentials, *, link_name: str, userids: list[str], skip_verify: bool = True
    ) -> AcquisitionLink: ...

    def update_link(
        self, creds: WeComCredentials, *, link_id: str, link_name: str, userids: list[str], skip_verify: bool = True
    ) -> None: ...

    def delete_link(self, creds: WeComCredentials, *, link_id: str) -> None: ...

    def get_link(self, creds: WeComCredentials, link_id: str) -> AcquisitionLink: ...

    def list_links(self, creds: WeComCredentials, *, cursor: str = "", limit: int = 100) -> tuple[list[str], str]:
        """One page of live link ids this app created and the next cursor ("" on the last page)."""
        ...

    def link_customers(
        self, creds: WeComCredentials, *, link_id: str, cursor: str = "", limit: int = 1000
    ) -> tuple[list[LinkCustomer], str]: ...

    def acquisition_quota(self, creds: WeComCredentials) -> AcquisitionQuota: ...
