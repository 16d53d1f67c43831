"""WeComClient's statistics calls against the WeCom world in process (WorldTransport): the figures are what happened
in the world (adds, re-adds, deletes, mass messages, groups, joins, leaves, group messages) on Beijing days, the
documented limits are checked before a call is spent, and the world answers WeCom's errcodes for what only it can
judge (the 180-day window, "yesterday at the latest")."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.statistics import beijing_day_start, check_stat_range
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay
from chalicelib.ports import Message, WeComCredentials
from devstack.wecom_world import WeComWorld, WorldTransport

CORP = "wwstatsclient001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")
DAY = 86_400
TODAY = 1_779_984_000  # 2026-05-29 00:00 Beijing
YESTERDAY = TODAY - DAY
H = 3600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(YESTERDAY - DAY + H)


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    return WeComWorld(clock=clock)


@pytest.fixture
def client(world: WeComWorld, clock: Clock) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock)


def add(world: WeComWorld, userid: str, ext: str) -> None:
    world.event(CORP, "add_external_contact", userid=userid, external_userid=ext)


def scenario(world: WeComWorld, client: WeComClient, clock: Clock) -> str:
    """The day before yesterday li makes a group; yesterday the scenario of the module docstring; now: today 10:00."""
    world.seed_group(CORP, owner="li", name="英语晨读·1期")
    clock.now = YESTERDAY + H
    add(world, "zhang", "wmA1")
    add(world, "zhang", "wmB2")
    add(world, "li", "wmC3")
    add(world, "li", "wmC3")  # the same relation reported twice: one add
    clock.now = YESTERDAY + 2 * H
    chat_id = str(world.seed_group(CORP, owner="zhang", name="考研数学·3期", members=["wmA1", "wmD4"])["chat_id"])
    clock.now = YESTERDAY + 3 * H
    world.group_join(CORP, chat_id=chat_id, external_userid="wmE5")
    world.group_leave(CORP, chat_id, external_userid="wmD4")
    world.group_message(CORP, chat_id, "wmA1")
    world.group_message(CORP, chat_id, "wmA1")
    world.group_message(CORP, chat_id, "wmE5")
    clock.now = YESTERDAY + 5 * H
    world.event(CORP, "del_follow_user", userid="zhang", external_userid="wmB2")
    add(world, "zhang", "wmB2")  # deleted and re-added: WeCom counts the add again
    msgid = client.add_msg_template(
        CREDS, sender="zhang", message=Message(text="今晚八点直播"), external_userids=["wmA1", "wmB2"]
    ).msgid
    world.confirm_task(msgid, "zhang")
    clock.now = TODAY + 10 * H
    add(world, "zhang", "wmF6")  # today: not in yesterday's figures
    return chat_id


def test_contact_statistics_count_what_happened_that_day(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    scenario(world, client, clock)
    (both,) = client.get_user_behavior_data(CREDS, userids=["zhang", "li"], start_time=YESTERDAY, end_time=YESTERDAY)
    assert both == ContactDay(
        stat_time=YESTERDAY, new_contact_cnt=4, chat_cnt=2, message_cnt=2, negative_feedback_cnt=1
    )
    (li,) = client.get_user_behavior_data(CREDS, userids=["li"], start_time=YESTERDAY + 5 * H, end_time=YESTERDAY)
    assert (li.new_contact_cnt, li.message_cnt, li.reply_percentage) == (1, 0, None)
    days = client.get_user_behavior_data(CREDS, userids=["zhang"], start_time=YESTERDAY, end_time=TODAY)
    assert [(d.stat_time, d.new_contact_cnt) for d in days] == [(YESTERDAY, 3), (TODAY, 1)]
    (call,) = world.calls("externalcontact/get_user_behavior_data")[-1:]
    assert call.payload == {"userid": ["zhang"], "start_time": YESTERDAY, "end_time": TODAY}


def test_group_statistics_by_day_and_by_owner(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    scenario(world, client, clock)
    (day,) = client.group_statistic_by_day(
        CREDS, owners=["zhang", "li"], day_begin_time=YESTERDAY, day_end_time=YESTERDAY
    )
    assert day == GroupDay(
        stat_time=YESTERDAY,
        new_chat_cnt=1,
        chat_total=2,
        chat_has_msg=1,
        new_member_cnt=4,  # zhang himself, wmA1, wmD4 at creation, wmE5
        member_total=4,  # zhang's group: zhang, wmA1, wmE5; li's: li
        member_has_msg=2,
        msg_total=3,
    )
    before = client.group_statistic_by_day(CREDS, owners=["li"], day_begin_time=YESTERDAY - DAY, day_end_time=YESTERDAY)
    assert [(d.new_chat_cnt, d.chat_total, d.member_total) for d in before] == [(1, 1, 1), (0, 1, 1)]
    owners, more = client.group_statistic_by_owner(
        CREDS, owners=["zhang", "li"], day_begin_time=YESTERDAY - DAY, day_end_time=YESTERDAY
    )
    assert more is None
    assert (owners["zhang"].new_member_cnt, owners["zhang"].msg_total, owners["li"].new_chat_cnt) == (4, 3, 1)
    page, more = client.group_statistic_by_owner(
        CREDS, owners=["zhang", "li"], day_begin_time=YESTERDAY, day_end_time=YESTERDAY, limit=1
    )
    assert list(page) == ["zhang"] and more == 1  # ordered by new_chat_cnt, descending


def test_a_past_day_does_not_move_when_today_changes_things(
    client: WeComClient, world: WeComWorld, clock: Clock
) -> None:
    chat_id = scenario(world, client, clock)
    first = client.group_statistic_by_day(CREDS, owners=["zhang"], day_begin_time=YESTERDAY, day_end_time=YESTERDAY)
    world.group_leave(CORP, chat_id, external_userid="wmE5")
    world.group_change(CORP, "dismiss", chat_id=chat_id)
    world.event(CORP, "del_follow_user", userid="zhang", external_userid="wmA1")
    again = client.group_statistic_by_day(CREDS, owners=["zhang"], day_begin_time=YESTERDAY, day_end_time=YESTERDAY)
    assert again == first
    snap = WeComWorld(clock=clock)
    snap.restore(world.snapshot())  # the statistics survive the sandbox's save and restore
    assert snap.corps[CORP].stat_events == world.corps[CORP].stat_events


def test_limits_are_checked_before_a_call_is_spent(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    clock.now = TODAY + H
    too_many = [f"u{i}" for i in range(101)]
    with pytest.raises(errors.InvalidError, match=r"1\.\.100"):
        client.get_user_behavior_data(CREDS, userids=too_many, start_time=YESTERDAY, end_time=YESTERDAY)
    with pytest.raises(errors.InvalidError, match=r"1\.\.100"):
        client.group_statistic_by_day(CREDS, owners=[], day_begin_time=YESTERDAY, day_end_time=YESTERDAY)
    with pytest.raises(errors.InvalidError, match="twice"):
        client.group_statistic_by_day(CREDS, owners=["a", "a"], day_begin_time=YESTERDAY, day_end_time=YESTERDAY)
    with pytest.raises(errors.InvalidError, match="30 days"):
        client.get_user_behavior_data(CREDS, userids=["a"], start_time=YESTERDAY - 30 * DAY, end_time=YESTERDAY)
    with pytest.raises(errors.InvalidError, match="starts after"):
        client.get_user_behavior_data(CREDS, userids=["a"], start_time=TODAY, end_time=YESTERDAY)
    assert world.calls() == []
    assert check_stat_range(YESTERDAY - 29 * DAY, YESTERDAY + 23 * H) == (YESTERDAY - 29 * DAY, YESTERDAY)
    assert beijing_day_start(YESTERDAY + DAY - 1) == YESTERDAY


def test_the_world_answers_40058_for_what_only_it_can_judge(
    client: WeComClient, world: WeComWorld, clock: Clock
) -> None:
    clock.now = TODAY + H
    with pytest.raises(errors.WeComInvalidArgumentError):  # today is not yet counted for groups
        client.group_statistic_by_day(CREDS, owners=["a"], day_begin_time=TODAY, day_end_time=TODAY)
    with pytest.raises(errors.WeComInvalidArgumentError):  # older than 180 days
        client.get_user_behavior_data(CREDS, userids=["a"], start_time=TODAY - 181 * DAY, end_time=TODAY - 180 * DAY)
    token = client._token(CREDS)
    path = f"/cgi-bin/externalcontact/get_user_behavior_data?access_token={token}"
    body = {"userid": [f"u{i}" for i in range(101)], "start_time": YESTERDAY, "end_time": YESTERDAY}
    assert world.handle(path, {"access_token": token}, body)["errcode"] == 40058
    assert world.handle(path, {"access_token": token}, {**body, "userid": [], "partyid": []})["errcode"] == 40058
    long = {"userid": ["a"], "start_time": YESTERDAY - 30 * DAY, "end_time": YESTERDAY}
    assert world.handle(path, {"access_token": token}, long)["errcode"] == 40058
    assert world.handle(path, {"access_token": token}, {**body, "userid": "a"})["errcode"] == 47001
    group_path = f"/cgi-bin/externalcontact/groupchat/statistic?access_token={token}"
    no_filter = {"day_begin_time": YESTERDAY}
    assert world.handle(group_path, {"access_token": token}, no_filter)["errcode"] == 40058
