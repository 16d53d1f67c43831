"""A small world for group plans on the in-memory store: a tenant, groups set up as ops would, plans through the
real plan service, the SOP engine (with its group policy) and the group enrollment service, a recording WeCom."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from chalicelib.domain.groups import DISMISSED, GroupSetup, GroupState
from chalicelib.domain.plans import Plan
from chalicelib.domain.sop import Touch
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import WeComPort
from chalicelib.services.group_plans import GroupPlanService
from chalicelib.services.plans import PlanService
from chalicelib.services.sop import SopEngine
from chalicelib.services.sop.kernel import FireReport
from chalicelib.services.sop.simulation import Simulator
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.fakes.wecom import RecordingWeCom

TID = "camp"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 2026-12-01 10:00 in Shanghai
COHORT = "2026-12-08"  # day 0: day -7 is 2026-12-01, today


def step(sid: str, day: int, at: str, content_type: str = "announcement", **over: Any) -> dict[str, Any]:
    return {"id": sid, "day": day, "at": at, "content_type": content_type, "message": {"text": f"群通知 {sid}"}, **over}


class GroupEnv:
    def __init__(self, touch_rules: str = "", store: Any = None, wecom: RecordingWeCom | None = None) -> None:
        self.clock = FixedClock(T0)
        self.store = store if store is not None else FakeStore()  # or a DynamoStore (tests/integration)
        self.scheduler = FakeScheduler()
        self.wecom = wecom or RecordingWeCom()
        self.ids = SeqIds()
        self.tenant = Tenant(
            TID, "思语考研", "wwcamp", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "", touch_rules=touch_rules
        )
        self.store.create_tenant(self.tenant)
        self.store.put_staff(TID, Staff(userid="zhang", name="张老师", active=True))
        self.plans = PlanService(self.store, self.clock, self.ids)
        port = cast(WeComPort, self.wecom)
        self.sop = SopEngine(self.store, self.plans, self.scheduler, port, self.clock, self.ids)
        self.groups = GroupPlanService(self.store, self.plans, self.sop.kernel, self.clock, self.ids)
        self.simulator = Simulator(self.plans, self.store)

    def group(
        self,
        chat_id: str,
        owner: str = "zhang",
        *,
        cohort_start: str | None = COHORT,
        type: str = "study",
        cohort: str = "3期",
        tags: tuple[str, ...] = (),
    ) -> None:
        """A group as WeCom and ops describe it (the setup API is another branch's: written to the store here)."""
        state = GroupState(name=f"思语考研·数学冲刺·{cohort}·{chat_id}", owner=owner, member_count=100)
        assert self.store.save_group_state(TID, chat_id, state, expected_rev=0)
        setup = GroupSetup(type=type, cohort=cohort, cohort_start=cohort_start, tags=tags)
        assert self.store.save_group_setup(TID, chat_id, setup, expected_rev=0)

    def dismiss(self, chat_id: str) -> None:
        group = self.store.get_group(TID, chat_id)
        assert group is not None
        dismissed = GroupState(owner=group.state.owner, status=DISMISSED)
        assert self.store.save_group_state(TID, chat_id, dismissed, expected_rev=group.state.rev)

    def plan(self, steps: list[dict[str, Any]], **over: Any) -> Plan:
        """A published group plan (through the plan service's validation)."""
        doc: dict[str, Any] = {
            "name": over.pop("name", "28天训练营"),
            "kind": "group",
            "trigger": {"type": "manual"},
            "group_audience": over.pop("group_audience", {"types": ["study"]}),
            "steps": steps,
            **over,
        }
        created = self.plans.create(self.tenant, doc)
        return self.plans.publish(self.tenant, created.plan_id)

    def bucket_ids(self) -> list[str]:
        return sorted({s["payload"]["bucket_id"] for s in self.scheduler.schedules.values()})

    def fire_at_minute(self, bucket_id: str) -> FireReport:
        """Move the clock to the bucket's minute (as its schedule fires) and fire it."""
        minute = datetime.strptime(bucket_id.rsplit(".", 1)[1], "%Y%m%d%H%M").replace(tzinfo=UTC)
        if minute > self.clock.now():
            self.clock.current = minute
        return self.sop.fire(TID, bucket_id)

    def run_calendar(self) -> list[FireReport]:
        """Fire every bucket as its schedule would, in time order, until none is left (the whole calendar)."""
        fired: set[str] = set()
        reports = []
        while pending := [b for b in self.bucket_ids() if b not in fired]:
            first = min(pending, key=lambda b: b.rsplit(".", 1)[1])
            fired.add(first)
            reports.append(self.fire_at_minute(first))
        return reports

    def touches(self, bucket_id: str) -> list[Touch]:
        return self.store.touches_in(TID, bucket_id, state=None)
