"""The sandbox's control API under /sandbox/: routing, the routes that play the customer's side (scans, relation
events, task confirmations; groups in sandbox_groups.py), the test controls (faults, expired tokens, the call log)
and the clock endpoint.

The routes only read and change the world and the callback registry; SandboxServer.control answers errors and
persists the state after a POST.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from chalicelib import errors
from devstack.sandbox_acquisition import AcquisitionRoutes
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery
from devstack.sandbox_events import EventsSecrets
from devstack.sandbox_faults import MAX_DELAY_MS, HttpFault, HttpFaults
from devstack.sandbox_groups import GroupRoutes
from devstack.sandbox_handover import HandoverRoutes
from devstack.sandbox_io import field_bool as _bool
from devstack.sandbox_io import field_str as _str
from devstack.sandbox_jssdk import JsSdkRoutes
from devstack.sandbox_pages import member_route
from devstack.wecom_world import WeComWorld
from devstack.wecom_world.contact_list import seed_route

Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]
_CONFIRM = re.compile(r"/sandbox/tasks/(?P<msgid>[^/]+)/confirm")


class ClockRoutes(Protocol):
    """What answers /sandbox/clock: devstack.timewarp.ClockControl in `make run`."""

    def show(self) -> dict[str, Any]: ...

    def move(self, body: dict[str, Any]) -> dict[str, Any]: ...


class SandboxParts(Protocol):
    """What the routes use of the sandbox (SandboxServer); ``clock`` may be set after construction."""

    world: WeComWorld
    callbacks: CallbackRegistry
    clock: ClockRoutes | None
    http_faults: HttpFaults
    events_secrets: EventsSecrets | None

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery: ...

    def post_business_event(self, tenant_id: str, secret: str, event: dict[str, Any], timestamp: int) -> Delivery: ...


class MethodNotAllowedError(errors.SiyuError):
    status = 405
    code = "method_not_allowed"


class ControlRoutes:
    """The /sandbox/ routes of one sandbox, by method and path."""

    def __init__(self, sandbox: SandboxParts) -> None:
        self._sandbox = sandbox
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "/sandbox/health"): lambda q, b: {"ok": True},
            ("GET", "/sandbox/calls"): self._calls,
            ("GET", "/sandbox/welcome_messages"): lambda q, b: {"welcome_messages": self._world.welcome_messages()},
            ("GET", "/sandbox/app_messages"): self._app_messages,
            ("POST", "/sandbox/reset"): self._reset,
            ("POST", "/sandbox/corps"): self._register_corp,
            ("POST", "/sandbox/contacts"): self._register_contact,
            ("POST", "/sandbox/scan"): self._scan,
            ("POST", "/sandbox/events"): self._event,
            ("POST", "/sandbox/faults"): self._fault,
            ("POST", "/sandbox/expire_tokens"): self._expire_tokens,
            ("GET", "/sandbox/clock"): lambda q, b: self._clock().show(),
            ("POST", "/sandbox/clock"): lambda q, b: self._clock().move(b),
            ("POST", "/sandbox/members"): member_route(sandbox.world),
            ("POST", "/sandbox/moments/publish"): self._publish_moment,  # 发表朋友圈 (wecom_world/moments.py)
            ("POST", "/sandbox/contacts/seed"): seed_route(sandbox.world),  # issue 14 §1: pre-existing contacts
            **GroupRoutes(sandbox).routes(),  # 客户群: devstack.sandbox_groups
            **JsSdkRoutes(sandbox).routes(),  # the JS-SDK player's open chat: devstack.sandbox_jssdk
            **AcquisitionRoutes(sandbox).routes(),  # 获客链接: devstack.sandbox_acquisition
            **HandoverRoutes(sandbox).routes(),  # 客户继承: devstack.sandbox_handover (issue 14 §2)
        }

    @property
    def _world(self) -> WeComWorld:
        return self._sandbox.world

    def route(self, method: str, path: str) -> Route:
        """The route for ``method path``; NotFoundError or MethodNotAllowedError (405) otherwise."""
        route = self._routes.get((method, path))
        if route is not None:
            return route
        match = _CONFIRM.fullmatch(path)
        if match is not None and method == "POST":
            msgid = match["msgid"]
            return lambda q, b: self._confirm(msgid, b)
        if any(p == path for _, p in self._routes) or match is not None:
            raise MethodNotAllowedError(f"{method} is not allowed on {path}")
        raise errors.NotFoundError(f"no such sandbox route: {path}")

    def _calls(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"calls": [asdict(call) for call in self._world.calls(query.get("api") or None)]}

    def _app_messages(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """?corp_id=&userid= (userid optional): what the members' WeCom got from apps, with duplicates and drops."""
        corp_id = query.get("corp_id") or ""
        if not corp_id:
            raise errors.InvalidError("corp_id is required")
        return {"app_messages": self._world.app_messages(corp_id, query.get("userid") or None)}

    def _reset(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._world.reset()
        self._sandbox.callbacks.clear()
        self._sandbox.http_faults.clear()
        return {"ok": True}

    def _register_corp(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        registration: dict[str, str | None] = {
            "corp_id": _str(body, "corp_id"),
            "tenant_id": _str(body, "tenant_id"),
            "token": _str(body, "token"),
            "encoding_aes_key": _str(body, "encoding_aes_key"),
            "callback_url": _str(body, "callback_url", required=False) or None,
            "agent_id": _str(body, "agent_id", required=False),
        }
        target = self._sandbox.callbacks.build(registration)
        monthly_limit = body.get("monthly_limit")
        if monthly_limit is not None and (not isinstance(monthly_limit, int) or monthly_limit < 1):
            raise errors.InvalidError("monthly_limit must be a positive integer")
        chat_member_limit = body.get("chat_member_limit")
        if chat_member_limit is not None and (not isinstance(chat_member_limit, int) or chat_member_limit < 2):
            raise errors.InvalidError("chat_member_limit must be an integer of at least 2 (the owner and one more)")
        self._world.register_corp(
            target.corp_id,
            secret=_str(body, "secret", required=False) or None,
            unionid=_bool(body, "unionid", default=True),
            monthly_limit=monthly_limit,
            chat_member_limit=chat_member_limit,
        )
        self._sandbox.callbacks.add(target, registration)
        return {"corp_id": target.corp_id, "tenant_id": target.tenant_id, "callback_url": target.callback_url}

    def _register_contact(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        mobiles = body.get("remark_mobiles") or []
        if not isinstance(mobiles, list) or not all(isinstance(m, str) for m in mobiles):
            raise errors.InvalidError("remark_mobiles must be a list of strings")
        gender = body.get("gender")
        if gender is not None and gender not in (0, 1, 2):
            raise errors.InvalidError("gender must be 0, 1 or 2")
        corp_id, external_userid = _str(body, "corp_id"), _str(body, "external_userid")
        self._world.register_contact(
            corp_id,
            external_userid,
            name=_str(body, "name", required=False) or None,
            unionid=body.get("unionid") if isinstance(body.get("unionid"), str) else None,
            gender=gender,
            avatar=_str(body, "avatar", required=False) or None,
            remark_mobiles=mobiles,
        )
        return {"corp_id": corp_id, "external_userid": external_userid}

    def _scan(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, state = _str(body, "corp_id"), body.get("state")
        if not isinstance(state, str):
            raise errors.InvalidError("state must be a string (it may be empty)")
        target = self._sandbox.callbacks.get(corp_id)
        fields = self._world.scan(
            corp_id,
            state,
            external_userid=_str(body, "external_userid", required=False) or None,
            userid=_str(body, "userid", required=False) or None,
            name=_str(body, "name", required=False) or None,
            unionid=_str(body, "unionid", required=False) or None,
        )
        delivery = self._sandbox.deliver(target, fields)
        return {
            "external_userid": fields["ExternalUserID"],
            "userid": fields["UserID"],
            "state": state,
            "welcome_code": fields.get("WelcomeCode"),
            "callback_status": delivery.status,
            "callback_body": delivery.body,
        }

    def _event(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, change_type = _str(body, "corp_id"), _str(body, "change_type")
        target = self._sandbox.callbacks.get(corp_id)
        reserved = {"corp_id", "change_type", "userid", "external_userid", "event", "now"}
        extra = {k: v for k, v in body.items() if k not in reserved}
        fields = self._world.event(
            corp_id,
            change_type,
            userid=_str(body, "userid", required=False),
            external_userid=_str(body, "external_userid", required=False),
            event=_str(body, "event", required=False) or "change_external_contact",
            **extra,
        )
        delivery = self._sandbox.deliver(target, fields)
        return {"fields": fields, "callback_status": delivery.status, "callback_body": delivery.body}

    def _fault(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """{api, times?, and at least one of}: ``errcode`` (the world answers it), ``delay_ms`` (the world takes that
        long first: a slow WeCom; with ``errcode`` or alone), or one HTTP-level fault of ``devstack.sandbox_faults``:
        ``http_status`` (5xx, before the world) or ``late_ms`` (the answer comes late, after the world acted: a
        client timeout where WeCom did the work); each for the next ``times`` calls of ``api``."""
        api, times = _str(body, "api"), body.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise errors.InvalidError("times must be a positive integer")
        given = [n for n in ("errcode", "delay_ms", "http_status", "late_ms") if body.get(n) is not None]
        if not given:
            raise errors.InvalidError("give errcode, delay_ms, http_status or late_ms")
        if "http_status" in given and "late_ms" in given:
            raise errors.InvalidError("give at most one of http_status, late_ms")
        for name in given:
            if not isinstance(body[name], int) or isinstance(body[name], bool):
                raise errors.InvalidError(f"{name} must be an integer")
        if body.get("delay_ms") is not None and body["delay_ms"] < 0:
            raise errors.InvalidError("delay_ms must be a non-negative integer")
        if "http_status" in given and not 500 <= body["http_status"] <= 599:
            raise errors.InvalidError("http_status must be a 5xx status")
        if "late_ms" in given and not 1 <= body["late_ms"] <= MAX_DELAY_MS:
            raise errors.InvalidError(f"late_ms must be from 1 to {MAX_DELAY_MS}")
        if body.get("delay_ms"):
            self._world.slow(api, body["delay_ms"] / 1000, times)
        if "errcode" in given:
            self._world.inject(api, body["errcode"], times)
        if "http_status" in given:
            self._sandbox.http_faults.add(api, HttpFault(http_status=body["http_status"]), times)
        if "late_ms" in given:
            self._sandbox.http_faults.add(api, HttpFault(late_ms=body["late_ms"]), times)
        answer: dict[str, Any] = {"api": api, "errcode": body.get("errcode"), "times": times}
        answer.update({n: body[n] for n in given if n != "errcode"})
        return answer

    def _expire_tokens(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._world.expire_tokens()
        return {"ok": True}

    def _confirm(self, msgid: str, body: dict[str, Any]) -> dict[str, Any]:
        counts = self._world.confirm_task(msgid, _str(body, "userid"))
        return {"msgid": msgid, **counts}

    def _publish_moment(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """``{corp_id, moment_id, userid}``: the staff member publishes the Moments post on their phone."""
        moment_id, userid = _str(body, "moment_id"), _str(body, "userid")
        reached = self._world.publish_moment(_str(body, "corp_id"), moment_id, userid)
        return {"moment_id": moment_id, "userid": userid, "reached": len(reached)}

    def _clock(self) -> ClockRoutes:
        clock = self._sandbox.clock
        if clock is None:
            raise errors.ForbiddenError("this sandbox has no movable clock (`make run` gives it the local stack's)")
        return clock
