"""The sandbox's 客户继承 routes: play the hand-over's other side (the customer, the clock, HR) and deliver what WeCom
would tell Siyu by callback.

    POST /sandbox/handover/refuse   {corp_id, external_userid}: the customer refuses the hand-over waiting for them;
                                    its transfer_fail callback (customer_refused) is delivered
    POST /sandbox/handover/settle   {corp_id}: hand-overs whose 24 h passed (on the sandbox clock) complete or fail;
                                    their callbacks (del_external_contact DELETE_BY_TRANSFER, transfer_fail
                                    customer_limit_exceed) are delivered, each once
    POST /sandbox/handover/resign   {corp_id, userid}: the staff member leaves (get_unassigned_list lists them)
    POST /sandbox/handover/limit    {corp_id, userid, limit}: the staff member's customer limit
    GET  /sandbox/handover?corp_id= every transfer of the corp with its status
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from chalicelib import errors
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery
from devstack.sandbox_io import field_str as _str
from devstack.wecom_world import WeComWorld

Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]


class HandoverSandbox(Protocol):
    world: WeComWorld
    callbacks: CallbackRegistry

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery: ...


class HandoverRoutes:
    """The hand-over routes of one sandbox, by (method, path)."""

    def __init__(self, sandbox: HandoverSandbox) -> None:
        self._sandbox = sandbox

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/sandbox/handover/refuse"): self._refuse,
            ("POST", "/sandbox/handover/settle"): self._settle,
            ("POST", "/sandbox/handover/resign"): self._resign,
            ("POST", "/sandbox/handover/limit"): self._limit,
            ("GET", "/sandbox/handover"): self._list,
        }

    @property
    def _world(self) -> WeComWorld:
        return self._sandbox.world

    def _deliver_all(self, corp_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        target = self._sandbox.callbacks.get(corp_id)
        delivered = []
        for fields in events:
            delivery = self._sandbox.deliver(target, fields)
            delivered.append({"fields": fields, "callback_status": delivery.status})
        return {"callbacks": delivered}

    def _refuse(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = _str(body, "corp_id")
        return self._deliver_all(corp_id, self._world.refuse_transfer(corp_id, _str(body, "external_userid")))

    def _settle(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = _str(body, "corp_id")
        return self._deliver_all(corp_id, self._world.transfer_callbacks(corp_id))

    def _resign(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._world.resign(_str(body, "corp_id"), _str(body, "userid"))
        return {"ok": True}

    def _limit(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        limit = body.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise errors.InvalidError("limit must be a non-negative integer")
        self._world.set_customer_limit(_str(body, "corp_id"), _str(body, "userid"), limit)
        return {"ok": True}

    def _list(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = query.get("corp_id", "")
        if not corp_id:
            raise errors.InvalidError("corp_id is required")
        return {"transfers": self._world.transfers(corp_id)}
