"""Unit fixtures: services wired to the in-memory store and the in-process WeCom world (no HTTP, no AWS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.codec import WXCallbackCodec
from chalicelib.bootstrap import Services, build
from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.tenants import Tenant
from chalicelib.settings import Settings
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.blobs import FakeBlobs
from tests.fakes.store import FakeStore

CORP = "wwunit0000000001"
WECOM = {"token": "unitToken123", "encoding_aes_key": "a" * 43, "secret": "unit-secret"}


@dataclass
class Env:
    svc: Services
    store: Any
    world: WeComWorld
    clock: FixedClock
    tenant: Tenant

    @property
    def scheduler(self) -> FakeScheduler:
        """The fake Scheduler the services were built with."""
        return cast(FakeScheduler, self.svc.sop.scheduler)

    def deliver(self, fields: dict[str, Any]) -> Any:
        return self.svc.intake.handle(self.tenant, event_from_fields(fields))

    def scan(self, state: str, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        fields = self.world.scan(CORP, state, now=self.clock.epoch(), **kwargs)
        return fields, self.deliver(fields)

    def event(self, change_type: str, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        fields = self.world.event(CORP, change_type, now=self.clock.epoch(), **kwargs)
        return fields, self.deliver(fields)

    def calls(self, api: str | None = None) -> int:
        return len(self.world.calls(api))

    # Views of the store that the fake and the DynamoDB store answer differently (see tests/integration).
    def counters(self, userid: str, date: str) -> dict[str, int]:
        return dict(self.store.counters.get(("unit", userid, date), {}))

    def ignored_count(self) -> int:
        return len(self.store.ignored)

    def customer_count(self) -> int:
        return len(self.store.customers)


def make_env(store: Any, env_class: type[Env] = Env) -> Env:
    """Services over ``store`` (the fake here, DynamoDB Local in tests/integration) and an in-process WeCom."""
    clock = FixedClock()
    world = WeComWorld(clock=clock.epoch)
    client = WeComClient(WorldTransport(world), sleep=lambda s: None)
    svc = build(
        Settings(admin_token="admin-unit"),
        store=store,
        wecom=client,
        clock=clock,
        ids=SeqIds(),
        codec=WXCallbackCodec(max_bytes=64 * 1024),
        scheduler=FakeScheduler(),
        blobs=FakeBlobs(),
    )
    tenant = svc.tenants.create(tenant_id="unit", name="单元测试教育", corp_id=CORP, wecom=WECOM)
    for userid, name in (("zhang", "张老师"), ("li", "李老师"), ("wang", "王老师")):
        svc.staff.create("unit", {"userid": userid, "name": name})
    return env_class(svc, store, world, clock, tenant)


@pytest.fixture
def env() -> Env:
    return make_env(FakeStore())


def make_channel(env: Env, **overrides: Any) -> Any:
    data = {
        "name": "抖音直播间",
        "source": "douyin",
        "staff": {"mode": "single", "userids": ["zhang"]},
        "welcome": {"text": "您好，资料包稍后发您"},
        "tags": [{"group": "流量平台来源", "name": "抖音"}],
    }
    data.update(overrides)
    return env.svc.channels.create(env.tenant, data)
