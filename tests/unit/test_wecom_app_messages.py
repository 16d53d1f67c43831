"""message/send (发送应用消息, page 90236): the client against the in-memory WeCom world, and the world's rules —
duplicate check, per-member frequency limits, invalid recipients, textcard limits."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.alerts import Card
from chalicelib.ports import WeComCredentials
from devstack.wecom_world import WeComWorld, WorldTransport

CORP = "wwapp000000000001"
CREDS = WeComCredentials("acme", CORP, "sec")
URL = "https://c.example.cn/console/acme/my"
CARD = Card("热线索：李妈妈刚刚积极回复", '<div class="gray">12月1日 10:00</div>', URL, "去跟进")


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_554_400.0  # 2025-12-01 10:00 Beijing

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    world = WeComWorld(clock=clock)
    world.register_corp(CORP)
    return world


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def send(client: WeComClient, card: Card = CARD, **kw: Any) -> Any:
    args: dict[str, Any] = {"agent_id": 1000002, "touser": "zhang", "card": card, "duplicate_check_interval": 1800}
    args.update(kw)
    return client.send_app_message(CREDS, **args)


def statuses(world: WeComWorld, userid: str = "zhang") -> list[str]:
    return [m["status"] for m in world.app_messages(CORP, userid)]


def test_a_textcard_reaches_the_member_with_its_fields(client: WeComClient, world: WeComWorld) -> None:
    result = send(client)
    [got] = world.app_messages(CORP, "zhang")
    assert result.msgid == got["msgid"] and result.invalid_users == ()
    assert (got["title"], got["url"], got["btntxt"], got["agentid"]) == (CARD.title, CARD.url, "去跟进", 1000002)
    assert got["status"] == "delivered" and world.app_messages(CORP, "li") == []
    [call] = world.calls("message/send")
    assert call.payload["msgtype"] == "textcard" and call.payload["enable_duplicate_check"] == 1


def test_the_same_request_within_the_interval_arrives_once(
    client: WeComClient, world: WeComWorld, clock: Clock
) -> None:
    send(client)
    clock.now += 1799
    send(client)  # WeCom answers ok, and the member does not see it again
    send(client, card=Card(CARD.title, CARD.description, CARD.url, "看看"))  # another request: shown
    clock.now += 1
    send(client)  # the first one's interval is over
    assert statuses(world) == ["delivered", "duplicate", "delivered", "delivered"]


def test_more_than_30_a_minute_to_one_member_are_dropped(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    for n in range(31):
        send(client, card=Card(f"提醒 {n}", CARD.description, CARD.url, CARD.btntxt))
    assert statuses(world).count("delivered") == 30 and statuses(world)[-1] == "dropped"
    send(client, touser="li", card=Card("提醒 x", CARD.description, CARD.url, CARD.btntxt))
    assert statuses(world, "li") == ["delivered"]  # the limit is per member
    clock.now += 60
    send(client, card=Card("提醒 y", CARD.description, CARD.url, CARD.btntxt))
    assert statuses(world)[-1] == "delivered"


def test_more_than_1000_an_hour_to_one_member_are_dropped(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    for n in range(1000):
        if n and n % 30 == 0:
            clock.now += 60.0 * 59 / 34  # 34 minutes of 30 stay within the hour
        send(client, card=Card(f"提醒 {n}", CARD.description, CARD.url, CARD.btntxt))
    assert statuses(world).count("delivered") == 1000
    send(client, card=Card("提醒 z", CARD.description, CARD.url, CARD.btntxt))
    assert statuses(world)[-1] == "dropped"


def test_invalid_recipients_are_named_and_all_invalid_is_81013(client: WeComClient, world: WeComWorld) -> None:
    assert send(client, touser="zhang|Bad User").invalid_users == ("bad user",)
    with pytest.raises(errors.WeComInvalidArgumentError) as exc:
        send(client, touser="bad user")
    assert exc.value.errcode == 81013


def test_a_bad_agentid_is_a_config_error(client: WeComClient, world: WeComWorld) -> None:
    world.inject("message/send", 40056)
    with pytest.raises(errors.WeComAuthError):
        send(client)


@pytest.mark.parametrize(
    "card",
    [
        Card("", "d", "https://x.cn", "详情"),
        Card("长" * 43, "d", "https://x.cn", "详情"),  # 129 bytes
        Card("t", "", "https://x.cn", "详情"),
        Card("t", "长" * 171, "https://x.cn", "详情"),  # 513 bytes
        Card("t", "d", "/console/acme/my", "详情"),  # no scheme
        Card("t", "d", "https://x.cn/" + "a" * 2040, "详情"),
        Card("t", "d", "https://x.cn", "立即去跟进"),  # 5 characters
    ],
)
def test_the_client_refuses_what_wecom_would_cut_or_refuse(client: WeComClient, world: WeComWorld, card: Card) -> None:
    with pytest.raises(errors.InvalidError):
        send(client, card=card)
    assert world.calls("message/send") == []


def test_the_client_checks_agent_touser_and_interval(client: WeComClient, world: WeComWorld) -> None:
    for kw in ({"agent_id": 0}, {"touser": ""}, {"duplicate_check_interval": 14401}, {"duplicate_check_interval": 0}):
        with pytest.raises(errors.InvalidError):
            send(client, **kw)
    assert world.calls("message/send") == []


def test_the_world_answers_wecoms_errcodes_for_a_bad_request(world: WeComWorld) -> None:
    token = world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    base = {"touser": "zhang", "msgtype": "textcard", "agentid": 1, "textcard": {"title": "t", "description": "d"}}

    def errcode(**changes: Any) -> int:
        return int(world.handle("/cgi-bin/message/send", {"access_token": token}, {**base, **changes})["errcode"])

    good = {"title": "t", "description": "d", "url": "https://x.cn"}
    assert errcode(textcard=good) == 0
    assert errcode() == 40058  # no url
    assert errcode(textcard=good, agentid=0) == 40056
    assert errcode(textcard=good, msgtype="text") == 40008
    assert errcode(textcard=good, touser="") == 81013
    assert errcode(textcard=good, enable_duplicate_check=1, duplicate_check_interval=14401) == 40058
    long = {**good, "title": "长" * 50, "btntxt": "立即去跟进"}
    assert errcode(textcard=long) == 0  # WeCom cuts a long title and button text itself
    last = world.app_messages(CORP, "zhang")[-1]
    assert len(last["title"].encode()) <= 128 and last["btntxt"] == "立即去跟"


def test_app_messages_survive_a_snapshot(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    send(client)
    restored = WeComWorld(clock=clock)
    restored.restore(world.snapshot())
    assert restored.app_messages(CORP, "zhang") == world.app_messages(CORP, "zhang")
    send(WeComClient(WorldTransport(restored), sleep=lambda s: None))
    assert statuses(restored) == ["delivered", "duplicate"]  # the duplicate check's memory is kept too
