"""The sandbox's acquisition-link routes (获客助手): the customer's side of a link, and its quota.

POST /sandbox/acquisition/open   {corp_id, url, name?, unionid?, external_userid?}: the customer opens the link's
                                 URL (with its ``customer_channel``) in WeChat and adds the next staff member of
                                 the link's range; the add callback goes to the corp's URL with State = the
                                 customer_channel. 409 when the corp's quota is spent, 400 for a dead link.
POST /sandbox/acquisition/quota  {corp_id, balance, total?}: set the corp's quota (获客额度)
GET  /sandbox/acquisition/links?corp_id=   the corp's live links
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

from chalicelib import errors
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery
from devstack.sandbox_http import RawAnswer
from devstack.sandbox_io import field_str as _str
from devstack.wecom_world import WeComWorld
from devstack.wecom_world.acquisition import LINK_PATH, QuotaExhaustedError

Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]


class AcquisitionParts(Protocol):
    world: WeComWorld
    callbacks: CallbackRegistry

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery: ...


class AcquisitionRoutes:
    def __init__(self, sandbox: AcquisitionParts) -> None:
        self._sandbox = sandbox

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/sandbox/acquisition/open"): self._open,
            ("POST", "/sandbox/acquisition/quota"): self._quota,
            ("GET", "/sandbox/acquisition/links"): self._links,
        }

    def _open(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = _str(body, "corp_id")
        target = self._sandbox.callbacks.get(corp_id)
        try:
            fields = self._sandbox.world.open_link(
                corp_id,
                _str(body, "url"),
                external_userid=_str(body, "external_userid", required=False) or None,
                name=_str(body, "name", required=False) or None,
                unionid=_str(body, "unionid", required=False) or None,
            )
        except QuotaExhaustedError as exc:
            raise errors.ConflictError(str(exc)) from exc
        delivery = self._sandbox.deliver(target, fields)
        return {
            "external_userid": fields["ExternalUserID"],
            "userid": fields["UserID"],
            "state": fields.get("State", ""),
            "welcome_code": fields.get("WelcomeCode"),
            "callback_status": delivery.status,
            "callback_body": delivery.body,
        }

    def _quota(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, balance, total = _str(body, "corp_id"), body.get("balance"), body.get("total")
        if not isinstance(balance, int) or isinstance(balance, bool):
            raise errors.InvalidError("balance must be an integer")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
            raise errors.InvalidError("total must be an integer")
        self._sandbox.world.set_link_quota(corp_id, balance=balance, total=total)
        return {"corp_id": corp_id, "balance": balance}

    def _links(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = query.get("corp_id") or ""
        if not corp_id:
            raise errors.InvalidError("corp_id is required")
        return {"links": self._sandbox.world.links(corp_id)}


def link_page(world: WeComWorld, path: str, query: dict[str, str]) -> RawAnswer:
    """``GET /ca/<link_id>``: a live link sends the browser to the sandbox phone with its URL ready to open; a
    deleted or unknown one is a 404, as WeCom's page says the link is no longer valid."""
    corp_id = world.corp_of_link(path.removeprefix(LINK_PATH))
    if corp_id is None:
        body = json.dumps(errors.NotFoundError("no such acquisition link (deleted?)").to_body()).encode()
        return RawAnswer(404, "application/json; charset=utf-8", body)
    url = f"{world.public_url}{path}" + (f"?{urlencode(query)}" if query else "")
    location = "/sandbox/ui?" + urlencode({"corp_id": corp_id, "link_url": url})
    return RawAnswer(303, "text/html; charset=utf-8", b"", {"Location": location})
