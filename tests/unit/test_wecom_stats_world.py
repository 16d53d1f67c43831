"""The daily fetch end to end against the WeCom world (the real client over WorldTransport, the fake store): what
happened in the world on a Beijing day is what gets stored for the tenant's day, across batches of staff; and the
comparison flags what the world saw but we did not."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.metrics.wecom_stats import stat_time_of
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.services.wecom_stats import WeComStatsService
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FixedClock
from tests.fakes.store import FakeStore

CORP = "wwstatsworld0001"
TENANT = Tenant("t1", "核对教育", CORP, "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
DAY = "2026-12-01"
H = 3600


def test_what_happened_in_the_world_is_what_is_stored() -> None:
    clock = FixedClock(datetime.fromtimestamp(stat_time_of(DAY) + 9 * H, UTC))
    world = WeComWorld(clock=clock.epoch)
    store = FakeStore()
    staff = [f"t{i:03d}" for i in range(130)]  # two batches: 100 and 30
    for userid in staff:
        store.create_staff("t1", Staff(userid=userid, name=userid))
    for i, userid in enumerate(("t005", "t120", "t129")):
        world.event(CORP, "add_external_contact", userid=userid, external_userid=f"wmParent{i:04d}")
    world.event(CORP, "del_follow_user", userid="t120", external_userid="wmParent0001")
    chat = world.seed_group(CORP, owner="t110", name="考研数学·3期", members=["wmParent0000", "wmParent0002"])
    world.group_leave(CORP, chat["chat_id"], external_userid="wmParent0002")
    world.group_message(CORP, chat["chat_id"], "wmParent0000")
    clock.advance(days=1)  # the next morning: the daily fetch
    client = WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock.epoch)
    service = WeComStatsService(staff=store, store=store, wecom=client, clock=clock)

    day = service.fetch_day(TENANT, DAY)

    assert (day.contact.new_contact_cnt, day.contact.negative_feedback_cnt, day.staff_count) == (3, 1, 130)
    assert (day.groups.new_chat_cnt, day.groups.chat_total, day.groups.new_member_cnt) == (1, 1, 3)
    assert (day.groups.member_total, day.groups.msg_total, day.groups.member_has_msg) == (2, 1, 1)
    assert store.get_wecom_day("t1", DAY) == day
    assert len(world.calls("externalcontact/get_user_behavior_data")) == 2
    group_calls = world.calls("externalcontact/groupchat/statistic_group_by_day")
    assert [len(c.payload["owner_filter"]["userid_list"]) for c in group_calls] == [100, 30]
    rows = {r.metric: r for r in service.compare(TENANT, {"adds": 1, "group_joins": 3}, DAY, DAY)}
    assert rows["adds"].flagged and rows["adds"].difference == -2  # two adds we never heard of
    assert not rows["group_joins"].flagged
