"""获客助手 (acquisition links, pages 97297 / 97375): create_link, update_link, delete_link, get, list_link,
customer and customer_acquisition_quota, and the customer's side: opening a link's URL in WeChat.

A link's URL is ``{public_url}/ca/{link_id}``; whoever hands it out appends ``customer_channel=<value>``, which
comes back (cut to 64 bytes) as the add callback's State and as ``state`` in ``customer``. Each new customer added
through a link spends one unit of the corp's quota (获客额度); at a balance of 0 the link no longer adds anyone, as
WeCom's links stop working when the quota runs out. A deleted link's URL adds no one either.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.wecom_world import contacts
from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.day_two_state import AcqLink, LinkAdd
from devstack.wecom_world.state import Corp, WorldError, WorldState, digest

MAX_LINK_USERS = 500
MAX_LIST_LIMIT = 100
MAX_CUSTOMER_LIMIT = 1000
MAX_CHANNEL_BYTES = 64  # customer_channel is cut to this
LINK_PATH = "/ca/"
QUOTA_LIFETIME = 365 * 86_400  # the sandbox's quota batch expires a year after it is asked about


class QuotaExhaustedError(WorldError):
    """The corp's acquisition quota is spent: the link adds no one."""


def link_url(world: WorldState, link_id: str) -> str:
    return f"{world.public_url}{LINK_PATH}{link_id}"


def create_link(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    name, users, skip_verify = _fields(p, None)
    link_id = "cawcde" + digest(corp.corp_id, "link", world.next_seq())[:12]
    link = AcqLink(link_id, name, link_url(world, link_id), users, skip_verify, world.now())
    corp.links[link_id] = link
    return {"link": _describe(link)}


def update_link(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    link = _link(corp, p)
    link.link_name, link.users, link.skip_verify = _fields(p, link)
    return {}


def delete_link(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    del corp.links[_link(corp, p).link_id]
    return {}


def get_link(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    link = _link(corp, p)
    described = {k: v for k, v in _describe(link).items() if k != "link_id"}
    return {"link": {**described, "skip_verify": link.skip_verify}, "range": {"user_list": list(link.users)}}


def list_link(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    limit, start = _page(p, MAX_LIST_LIMIT)
    ids = list(corp.links)
    page = ids[start : start + limit]
    more = start + limit < len(ids)
    return {"link_id_list": page, "next_cursor": str(start + limit) if more else ""}


def customer(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    link = _link(corp, p)
    limit, start = _page(p, MAX_CUSTOMER_LIMIT)
    rows = link.adds[start : start + limit]
    more = start + limit < len(link.adds)
    return {
        "customer_list": [
            {"external_userid": a.external_userid, "userid": a.userid, "chat_status": a.chat_status, "state": a.state}
            for a in rows
        ],
        "next_cursor": str(start + limit) if more else "",
    }


def quota(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    expire = int(world.now()) // 86_400 * 86_400 + QUOTA_LIFETIME
    batches = [{"expire_date": expire, "balance": corp.link_quota_balance}] if corp.link_quota_balance else []
    return {"total": corp.link_quota_total, "balance": corp.link_quota_balance, "quota_list": batches}


APIS = ApiSet(
    {
        "externalcontact/customer_acquisition/create_link": create_link,
        "externalcontact/customer_acquisition/update_link": update_link,
        "externalcontact/customer_acquisition/delete_link": delete_link,
        "externalcontact/customer_acquisition/get": get_link,
        "externalcontact/customer_acquisition/list_link": list_link,
        "externalcontact/customer_acquisition/customer": customer,
        "externalcontact/customer_acquisition_quota": quota,
    },
    read_only=frozenset(
        {
            "externalcontact/customer_acquisition/get",
            "externalcontact/customer_acquisition/list_link",
            "externalcontact/customer_acquisition/customer",
            "externalcontact/customer_acquisition_quota",
        }
    ),
    from_query=frozenset({"externalcontact/customer_acquisition_quota"}),
)


def open_link(
    world: WorldState,
    corp_id: str,
    url: str,
    *,
    external_userid: str | None = None,
    name: str | None = None,
    unionid: str | None = None,
) -> dict[str, Any]:
    """A customer opens a link's URL in WeChat and adds the next staff member of its range (round-robin): the add
    callback's fields, State = the URL's customer_channel (cut to 64 bytes). A new customer spends one unit of
    quota; QuotaExhaustedError when none is left, WorldError for a URL no live link has."""
    corp = world.corp(corp_id)
    parts = urlsplit(url)
    link = corp.links.get(parts.path.rpartition(LINK_PATH)[2]) if LINK_PATH in parts.path else None
    if link is None:
        raise WorldError("no live acquisition link has that URL (deleted, or of another corp)")
    channel = (parse_qs(parts.query).get("customer_channel") or [""])[0]
    state = channel.encode("utf-8")[:MAX_CHANNEL_BYTES].decode("utf-8", "ignore")
    userid = link.users[link.next_user % len(link.users)]
    if external_userid is None:
        external_userid = "wm" + digest(corp_id, "external", world.next_seq())[:30]
    known = corp.follows.get(external_userid, {}).get(userid)
    new = known is None or not known.friends
    if new and corp.link_quota_balance <= 0:
        raise QuotaExhaustedError("获客额度已用完：the corp's acquisition quota is spent, the link adds no one")
    if name is not None or unionid is not None:
        contacts.register_contact(world, corp_id, external_userid, name=name, unionid=unionid)
    fields = contacts.event(
        world, corp_id, "add_external_contact", userid=userid, external_userid=external_userid, State=state
    )
    link.next_user += 1
    if new:
        corp.link_quota_balance -= 1
        link.adds.append(LinkAdd(external_userid, userid, state))
    return fields


class AcquisitionControls(WorldState):
    """WeComWorld's controls for acquisition links (the sandbox's /sandbox/acquisition routes)."""

    def open_link(
        self,
        corp_id: str,
        url: str,
        *,
        external_userid: str | None = None,
        name: str | None = None,
        unionid: str | None = None,
    ) -> dict[str, Any]:
        """See ``open_link``: the add callback's fields."""
        with self.lock:
            return open_link(self, corp_id, url, external_userid=external_userid, name=name, unionid=unionid)

    def set_link_quota(self, corp_id: str, *, balance: int, total: int | None = None) -> None:
        """Set the corp's acquisition quota (what it bought, what is left)."""
        if balance < 0 or (total is not None and total < balance):
            raise WorldError("the quota needs 0 ≤ balance ≤ total")
        with self.lock:
            corp = self.corp(corp_id)
            corp.link_quota_balance = balance
            corp.link_quota_total = max(corp.link_quota_total, balance) if total is None else total

    def corp_of_link(self, link_id: str) -> str | None:
        """The corp whose live link this is (the sandbox's /ca/ page), or None."""
        with self.lock:
            return next((c.corp_id for c in self.corps.values() if link_id in c.links), None)

    def links(self, corp_id: str) -> list[dict[str, Any]]:
        """The corp's live links (link_id, link_name, url, users, adds), oldest first."""
        with self.lock:
            return [
                {**_describe(link), "users": list(link.users), "adds": len(link.adds)}
                for link in self.corp(corp_id).links.values()
            ]


def _describe(link: AcqLink) -> dict[str, Any]:
    return {"link_id": link.link_id, "link_name": link.link_name, "url": link.url, "create_time": int(link.created_at)}


def _link(corp: Corp, p: dict[str, Any]) -> AcqLink:
    link_id = str(p.get("link_id") or "")
    link = corp.links.get(link_id)
    if not link_id or link is None:
        raise ApiError(40058)  # the docs list no dedicated errcode for an unknown link
    return link


def _fields(p: dict[str, Any], current: AcqLink | None) -> tuple[str, list[str], bool]:
    name = str(p.get("link_name", current.link_name if current else ""))
    scope = p.get("range")
    if scope is None and current is not None:
        users = list(current.users)
    else:
        users = [str(u) for u in (scope or {}).get("user_list") or []]
    if not name or not users or len(users) > MAX_LINK_USERS or len(set(users)) != len(users):
        raise ApiError(40058)  # no name, an empty or oversized range
    skip = p.get("skip_verify", current.skip_verify if current else True)
    return name, users, bool(skip)


def _page(p: dict[str, Any], most: int) -> tuple[int, int]:
    limit = int(p.get("limit") or most)
    if not 1 <= limit <= most:
        raise ApiError(40058)
    cursor = str(p.get("cursor") or "0")
    if not cursor.isdigit():
        raise ApiError(50100)  # invalid cursor
    return limit, int(cursor)
