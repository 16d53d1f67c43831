"""The sandbox's 客户群 routes: people join and leave groups, owners change them, and each change is delivered to
Siyu as the signed ``change_external_chat`` callback WeCom sends (devstack.wecom_world.groups); groups that existed
before Siyu was connected are seeded without one; a member's group message is posted to Siyu as the tenant's
business-events sender would (devstack.sandbox_events).

    POST /sandbox/group-join     {corp_id, config_id | chat_id, external_userid | userid, invitor?,
                                  mem_change_list?: "items" | "text"}
    POST /sandbox/group-leave    {corp_id, chat_id, external_userid | userid, removed?, mem_change_list?}
    POST /sandbox/group-change   {corp_id, change: create|dismiss|change_owner|change_name|change_notice, chat_id?,
                                  owner?, name?, notice?}
    POST /sandbox/groups         {corp_id, owner, name, members?: [userid…], notice?, admins?: [userid…]}
    GET  /sandbox/groups?corp_id=
    POST /sandbox/group-message  {tenant_id, chat_id, external_userid, text, event_id?, events_secret?}

``mem_change_list`` picks MemChangeList's form: ``<Item>`` children (current docs, the default) or the older
comma-separated text; WeCom has delivered both (shared/reference/wecom.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from chalicelib import errors
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery
from devstack.sandbox_events import EventsSecrets
from devstack.sandbox_io import field_bool as _bool
from devstack.sandbox_io import field_str as _str
from devstack.wecom_world import WeComWorld

Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]
MEM_CHANGE_LIST_FORMS = ("items", "text")
CHINA = timezone(timedelta(hours=8))  # occurred_at of a posted message carries China's offset


class GroupSandbox(Protocol):
    """What the group routes use of the sandbox (SandboxServer)."""

    world: WeComWorld
    callbacks: CallbackRegistry
    events_secrets: EventsSecrets | None

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery: ...

    def post_business_event(self, tenant_id: str, secret: str, event: dict[str, Any], timestamp: int) -> Delivery: ...


class GroupRoutes:
    """The group routes of one sandbox, by (method, path)."""

    def __init__(self, sandbox: GroupSandbox) -> None:
        self._sandbox = sandbox

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/sandbox/group-join"): self._join,
            ("POST", "/sandbox/group-leave"): self._leave,
            ("POST", "/sandbox/group-change"): self._change,
            ("POST", "/sandbox/groups"): self._seed,
            ("GET", "/sandbox/groups"): self._list,
            ("POST", "/sandbox/group-message"): self._message,
        }

    @property
    def _world(self) -> WeComWorld:
        return self._sandbox.world

    def _join(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, form = _str(body, "corp_id"), _form(body)
        target = self._sandbox.callbacks.get(corp_id)
        events = self._world.group_join(
            corp_id,
            config_id=_str(body, "config_id", required=False),
            chat_id=_str(body, "chat_id", required=False),
            external_userid=_str(body, "external_userid", required=False),
            userid=_str(body, "userid", required=False),
            invitor=_str(body, "invitor", required=False),
        )
        joined = events[-1]
        return {
            "chat_id": joined["ChatId"],
            "created_chat_id": events[0]["ChatId"] if events[0]["ChangeType"] == "create" else None,
            "member_version": joined["CurMemVer"],
            "callbacks": [self._deliver(target, fields, form) for fields in events],
        }

    def _leave(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, form = _str(body, "corp_id"), _form(body)
        target = self._sandbox.callbacks.get(corp_id)
        fields = self._world.group_leave(
            corp_id,
            _str(body, "chat_id"),
            external_userid=_str(body, "external_userid", required=False),
            userid=_str(body, "userid", required=False),
            removed=_bool(body, "removed", default=False),
        )
        return {
            "chat_id": fields["ChatId"],
            "member_version": fields["CurMemVer"],
            "callbacks": [self._deliver(target, fields, form)],
        }

    def _change(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = _str(body, "corp_id")
        target = self._sandbox.callbacks.get(corp_id)
        for name in ("name", "notice"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise errors.InvalidError(f"{name} must be a string")
        fields = self._world.group_change(
            corp_id,
            _str(body, "change"),
            chat_id=_str(body, "chat_id", required=False),
            owner=_str(body, "owner", required=False),
            name=body.get("name"),
            notice=body.get("notice"),
        )
        return {"chat_id": fields["ChatId"], "callbacks": [self._deliver(target, fields, "items")]}

    def _seed(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._world.seed_group(
            _str(body, "corp_id"),
            owner=_str(body, "owner"),
            name=_str(body, "name"),
            members=_ids(body, "members"),
            notice=_str(body, "notice", required=False),
            admins=_ids(body, "admins"),
        )

    def _list(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id = query.get("corp_id") or ""
        if not corp_id:
            raise errors.InvalidError("corp_id is required (?corp_id=)")
        return {"corp_id": corp_id, "groups": self._world.groups(corp_id)}

    def _message(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        tenant_id, chat_id = _str(body, "tenant_id"), _str(body, "chat_id")
        external_userid, text = _str(body, "external_userid"), _str(body, "text")
        corp_id = self._sandbox.callbacks.for_tenant(tenant_id).corp_id
        chat = next((g for g in self._world.groups(corp_id) if g["chat_id"] == chat_id and not g["dismissed"]), None)
        if chat is None:
            raise errors.NotFoundError(f"no group {chat_id} in corp {corp_id}")
        if external_userid not in {m["userid"] for m in chat["members"]}:
            raise errors.InvalidError(f"{external_userid} is not a member of {chat_id}")
        secret = _str(body, "events_secret", required=False) or self._secret(tenant_id)
        now = self._world.now()
        self._world.group_message(corp_id, chat_id, external_userid, now=now)  # WeCom's group statistics count it
        event = {
            "event_id": _str(body, "event_id", required=False) or f"sbx-groupmsg-{secrets.token_hex(8)}",
            "type": "message",
            "occurred_at": datetime.fromtimestamp(int(now), UTC).astimezone(CHINA).isoformat(),
            "external_userid": external_userid,
            "chat_id": chat_id,
            "text": text,
        }
        delivery = self._sandbox.post_business_event(tenant_id, secret, event, int(now))
        return {"event": event, "status": delivery.status, "body": delivery.body}

    def _secret(self, tenant_id: str) -> str:
        provider = self._sandbox.events_secrets
        secret = provider(tenant_id) if provider is not None else None
        if not secret:
            raise errors.InvalidError(
                f"the sandbox does not know tenant {tenant_id}'s events secret: pass events_secret "
                "(`make run` knows the demo tenant's, devstack/.data/events_secret)"
            )
        return secret

    def _deliver(self, target: CorpCallback, fields: dict[str, Any], form: str) -> dict[str, Any]:
        fields = in_form(fields, form)
        delivery = self._sandbox.deliver(target, fields)
        return {
            "change_type": fields["ChangeType"],
            "update_detail": fields.get("UpdateDetail"),
            "chat_id": fields["ChatId"],
            "fields": fields,
            "callback_status": delivery.status,
            "callback_body": delivery.body,
        }


def in_form(fields: dict[str, Any], form: str) -> dict[str, Any]:
    """The callback with MemChangeList as ``<Item>`` children ("items": a list, as build_event_xml writes lists) or
    as the older comma-separated text ("text")."""
    if form == "text" and isinstance(fields.get("MemChangeList"), list):
        return {**fields, "MemChangeList": ",".join(fields["MemChangeList"])}
    return fields


def _form(body: dict[str, Any]) -> str:
    form = body.get("mem_change_list", "items")
    if form not in MEM_CHANGE_LIST_FORMS:
        raise errors.InvalidError('mem_change_list must be "items" or "text"')
    return str(form)


def _ids(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise errors.InvalidError(f"{key} must be a list of userids")
    return list(value)
