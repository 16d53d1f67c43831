"""Shared wiring for g2's group tests: the real services over the fake store, the real WeCom client over the WeCom
world in process, a memory repair queue, and a recorder of the group signals.

WeCom's groups are the world's (``world_groups=True``: ``env.world`` plays them, devstack/wecom_world/groups.py), or
FakeGroupChats for the tests that need what the world does not play: a crash (not a WeCom error) halfway through a
sync, a truth edited by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.codec import WXCallbackCodec
from chalicelib.bootstrap import Services, build
from chalicelib.domain.group_events import group_event_from_fields
from chalicelib.domain.group_members import GroupMember
from chalicelib.domain.signals import GROUP_JOINED, GROUP_LEFT, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.services.budget import Budget
from chalicelib.services.groups.members import member_key
from chalicelib.services.intake import IntakeResult
from chalicelib.settings import Settings
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.repairs import MemoryRepairQueue
from tests.fakes.store import FakeStore
from tests.fakes.wecom_groups_g2 import FakeGroupChats
from tests.unit.conftest import CORP, WECOM

CHAT = "wrchat0000000001"


@dataclass
class GroupEnv:
    svc: Services
    store: Any
    clock: FixedClock
    tenant: Tenant
    chats: FakeGroupChats
    world: WeComWorld
    queue: MemoryRepairQueue
    heard: list[Signal] = field(default_factory=list)
    seconds: float = 3.0  # each delivery's callback budget
    chat: str = CHAT  # the group the tests look at by default (a world's group has the id the world gave it)

    def deliver(self, fields: dict[str, Any], *, seconds: float | None = None) -> IntakeResult:
        budget = Budget(self.seconds if seconds is None else seconds, lambda: 0.0)
        return self.svc.group_events.handle(self.tenant, group_event_from_fields(fields), budget)

    def member(self, userid: str, chat_id: str | None = None) -> GroupMember | None:
        key = member_key(self.tenant, userid)
        return self.store.get_members(self.tenant.tenant_id, chat_id or self.chat, [key]).get(key)

    def in_group(self, chat_id: str | None = None) -> set[str]:
        page = self.store.list_members(self.tenant.tenant_id, chat_id or self.chat, cursor=None, limit=10_000)
        return {m.userid for m in page.items if m.in_group}

    def state(self, chat_id: str | None = None) -> Any:
        group = self.store.get_group(self.tenant.tenant_id, chat_id or self.chat)
        return None if group is None else group.state

    def drain(self) -> None:
        """Make every due repair (the backstop's repair run), the clock moved past any backoff."""
        assert self.svc.repairs is not None
        for _ in range(5):
            self.svc.repairs.run(stop=lambda: False)
            self.clock.advance(hours=2)


def make_group_env(store: Any | None = None, *, world_groups: bool = False) -> GroupEnv:
    clock = FixedClock()
    queue = MemoryRepairQueue(clock)
    world = WeComWorld(clock=clock.epoch)
    svc = build(
        Settings(admin_token="admin-unit"),
        store=store if store is not None else FakeStore(),
        wecom=WeComClient(WorldTransport(world), sleep=lambda s: None),
        clock=clock,
        ids=SeqIds(),
        codec=WXCallbackCodec(max_bytes=64 * 1024),
        scheduler=FakeScheduler(),
        repair_queue=queue,
    )
    chats = FakeGroupChats(now=lambda: int(clock.now().timestamp()))
    if not world_groups:
        svc.group_events.source = chats
        svc.group_sync.source = chats
    tenant = svc.tenants.create(tenant_id="unit", name="单元测试教育", corp_id=CORP, wecom=WECOM)
    svc.staff.create("unit", {"userid": "zhang", "name": "张老师"})
    env = GroupEnv(svc, svc.store, clock, tenant, chats, world, queue)
    svc.signals.subscribe((GROUP_JOINED, GROUP_LEFT), "test", lambda t, s, sig: env.heard.append(sig))
    return env
