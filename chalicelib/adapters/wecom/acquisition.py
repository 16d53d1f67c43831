"""WeComClient's acquisition-link calls (获客助手): customer_acquisition/create_link, update_link, delete_link, get,
list_link, customer (page 97297) and customer_acquisition_quota (page 97375). Implements ports.AcquisitionLinkPort.

A mixin like statistics.py: every call goes through the client's ``_api``. The documented limits that need no state
are checked before a call is spent: a name, a range of 1..MAX_LINK_USERS distinct userids, list_link's limit ≤ 100,
customer's limit ≤ 1000. These APIs take a self-built app's secret listed as 「可调用应用」 (not the 客户联系
system app's); a secret that may not call them gets 48002, which the client maps to WeComAuthError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.ports.acquisition import AcquisitionLink, AcquisitionQuota, LinkCustomer, QuotaBatch

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

MAX_LINK_USERS = 500  # range.user_list of one link
MAX_LINK_NAME_CHARS = 30  # Siyu's own cap (the docs give none): the name shows in WeCom's admin list
MAX_LIST_LIMIT = 100  # list_link
MAX_CUSTOMER_LIMIT = 1000  # customer_acquisition/customer
MAX_CUSTOMER_CHANNEL_BYTES = 64  # customer_channel: longer values are cut by WeCom


def check_link(link_name: str, userids: list[str]) -> None:
    """InvalidError before a call is spent: no name, a name over the cap, an empty, too long or repeating range."""
    if not link_name or len(link_name) > MAX_LINK_NAME_CHARS:
        raise errors.InvalidError(f"an acquisition link needs a name of 1..{MAX_LINK_NAME_CHARS} characters")
    if not 1 <= len(userids) <= MAX_LINK_USERS or not all(userids):
        raise errors.InvalidError(f"an acquisition link's range takes 1..{MAX_LINK_USERS} staff members")
    if len(set(userids)) != len(userids):
        raise errors.InvalidError("an acquisition link's range lists a staff member twice")


class AcquisitionMixin(ApiMixin):
    """The acquisition-link half of WeComClient (see the module docstring)."""

    def create_link(
        self, creds: WeComCredentials, *, link_name: str, userids: list[str], skip_verify: bool = True
    ) -> AcquisitionLink:
        check_link(link_name, userids)
        body = {"link_name": link_name, "range": {"user_list": list(userids)}, "skip_verify": skip_verify}
        data = self._api(creds, "externalcontact/customer_acquisition/create_link", body)
        link = data.get("link")
        if not isinstance(link, dict) or not link.get("link_id") or not link.get("url"):
            raise errors.WeComTransportError("WeCom create_link answered without link.link_id and link.url")
        return _link(str(link["link_id"]), link, {"user_list": userids})

    def update_link(
        self, creds: WeComCredentials, *, link_id: str, link_name: str, userids: list[str], skip_verify: bool = True
    ) -> None:
        _link_id(link_id)
        check_link(link_name, userids)
        body = {
            "link_id": link_id,
            "link_name": link_name,
            "range": {"user_list": list(userids)},
            "skip_verify": skip_verify,
        }
        self._api(creds, "externalcontact/customer_acquisition/update_link", body)

    def delete_link(self, creds: WeComCredentials, *, link_id: str) -> None:
        self._api(creds, "externalcontact/customer_acquisition/delete_link", {"link_id": _link_id(link_id)})

    def get_link(self, creds: WeComCredentials, link_id: str) -> AcquisitionLink:
        data = self._api(creds, "externalcontact/customer_acquisition/get", {"link_id": _link_id(link_id)})
        link = data.get("link")
        if not isinstance(link, dict):
            raise errors.WeComTransportError("WeCom customer_acquisition/get answered without link")
        scope = data.get("range")
        return _link(link_id, link, scope if isinstance(scope, dict) else {})

    def list_links(self, creds: WeComCredentials, *, cursor: str = "", limit: int = 100) -> tuple[list[str], str]:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise errors.InvalidError(f"list_link takes a limit of 1..{MAX_LIST_LIMIT}")
        body: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        data = self._api(creds, "externalcontact/customer_acquisition/list_link", body)
        return [str(i) for i in data.get("link_id_list") or []], str(data.get("next_cursor") or "")

    def link_customers(
        self, creds: WeComCredentials, *, link_id: str, cursor: str = "", limit: int = 1000
    ) -> tuple[list[LinkCustomer], str]:
        if not 1 <= limit <= MAX_CUSTOMER_LIMIT:
            raise errors.InvalidError(f"customer_acquisition/customer takes a limit of 1..{MAX_CUSTOMER_LIMIT}")
        body: dict[str, Any] = {"link_id": _link_id(link_id), "limit": limit, **({"cursor": cursor} if cursor else {})}
        data = self._api(creds, "externalcontact/customer_acquisition/customer", body)
        rows = [r for r in data.get("customer_list") or [] if isinstance(r, dict)]
        customers = [
            LinkCustomer(
                external_userid=str(r.get("external_userid", "")),
                userid=str(r.get("userid", "")),
                chat_status=int(r.get("chat_status") or 0),
                state=str(r.get("state", "")),
            )
            for r in rows
        ]
        return customers, str(data.get("next_cursor") or "")

    def acquisition_quota(self, creds: WeComCredentials) -> AcquisitionQuota:
        data = self._api(creds, "externalcontact/customer_acquisition_quota", None, method="GET")
        batches = tuple(
            QuotaBatch(expire_date=int(q.get("expire_date") or 0), balance=int(q.get("balance") or 0))
            for q in data.get("quota_list") or []
            if isinstance(q, dict)
        )
        total, balance = int(data.get("total") or 0), int(data.get("balance") or 0)
        return AcquisitionQuota(total=total, balance=balance, batches=batches)


def _link_id(link_id: str) -> str:
    if not link_id:
        raise errors.InvalidError("link_id is required")
    return link_id


def _link(link_id: str, link: dict[str, Any], scope: dict[str, Any]) -> AcquisitionLink:
    return AcquisitionLink(
        link_id=link_id,
        link_name=str(link.get("link_name", "")),
        url=str(link.get("url", "")),
        create_time=int(link.get("create_time") or 0),
        skip_verify=bool(link.get("skip_verify", True)),
        userids=tuple(str(u) for u in scope.get("user_list") or []),
        department_ids=tuple(int(d) for d in scope.get("department_list") or []),
    )
