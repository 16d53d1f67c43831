"""Customer groups (客户群); see docs/data-model.md.

Key: ``T#<tid>`` / ``GRP#<chat_id>``: beside the channels, so a tenant's groups list with one Query. The item holds
two halves, each a JSON document under its own revision (models.GroupItem): WeCom's state (``state``,
``state_rev``) and ops' setup (``doc``, ``setup_rev``). A write sets one half with UpdateItem conditional on that
half's revision, so a callback and an ops edit never overwrite each other, and either may create the item.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.models import GroupItem
from chalicelib.domain.groups import Group, GroupSetup, GroupState
from chalicelib.ports import Page

_TUPLES_STATE = ("admins", "seen_versions")
_TUPLES_SETUP = ("kols", "tags")


def state_to_json(state: GroupState) -> str:
    data = {n: v for n, v in asdict(state).items() if n != "rev"}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def setup_to_json(setup: GroupSetup) -> str:
    data = {n: v for n, v in asdict(setup).items() if n != "rev"}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _fields(doc: str | None, tuples: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(doc) if doc else {}
    return {n: tuple(v) if n in tuples else v for n, v in data.items()}


def group_from_raw(raw: Raw) -> Group:
    item = GroupItem.from_raw_data(raw)
    chat_id = item.sk.removeprefix(k.GROUP_PREFIX)
    state = GroupState(**_fields(item.state, _TUPLES_STATE), rev=int(item.state_rev or 0))
    setup = GroupSetup(**_fields(item.doc, _TUPLES_SETUP), rev=int(item.setup_rev or 0))
    return Group(chat_id, state, setup)


def _revision(attr: Any, expected: int) -> Condition:
    """The half's write condition: it is at ``expected`` (0: that half was never written)."""
    return attr.does_not_exist() if expected == 0 else attr == expected


class GroupRepository(DynamoBase):
    def get_group(self, tenant_id: str, chat_id: str, *, consistent: bool = False) -> Group | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.group_sk(chat_id), consistent=consistent)
        return group_from_raw(raw) if raw else None

    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]:
        """The groups among ``chat_ids`` that exist (BatchGetItem, eventually consistent), by chat id."""
        pk = k.tenant_pk(tenant_id)
        found = self.batch_get([(pk, k.group_sk(c)) for c in dict.fromkeys(chat_ids)])
        groups = (group_from_raw(raw) for raw in found.values())
        return {g.chat_id: g for g in groups}

    def list_groups(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        """A page of the tenant's groups in chat-id order, whatever their status (the caller filters)."""
        raws, nxt = self.query_page(
            GroupItem, k.tenant_pk(tenant_id), GroupItem.sk.startswith(k.GROUP_PREFIX), cursor=cursor, limit=limit
        )
        return Page([group_from_raw(r) for r in raws], nxt)

    def save_group_state(self, tenant_id: str, chat_id: str, state: GroupState, *, expected_rev: int) -> bool:
        """Set WeCom's half to ``state`` if that half is still at ``expected_rev`` (its rev becomes expected + 1);
        False when another writer got there first (re-read and decide again)."""
        item = GroupItem(pk=k.tenant_pk(tenant_id), sk=k.group_sk(chat_id))
        actions: list[Action] = [
            GroupItem.state.set(state_to_json(replace(state, rev=0))),
            GroupItem.state_rev.set(expected_rev + 1),
            GroupItem.kind.set(GroupItem),
        ]
        return self.conditional(lambda: item.update(actions, condition=_revision(GroupItem.state_rev, expected_rev)))

    def save_group_setup(self, tenant_id: str, chat_id: str, setup: GroupSetup, *, expected_rev: int) -> bool:
        """Set ops' half to ``setup`` if that half is still at ``expected_rev`` (its rev becomes expected + 1);
        False when it changed concurrently."""
        item = GroupItem(pk=k.tenant_pk(tenant_id), sk=k.group_sk(chat_id))
        actions: list[Action] = [
            GroupItem.doc.set(setup_to_json(replace(setup, rev=0))),
            GroupItem.setup_rev.set(expected_rev + 1),
            GroupItem.kind.set(GroupItem),
        ]
        return self.conditional(lambda: item.update(actions, condition=_revision(GroupItem.setup_rev, expected_rev)))
