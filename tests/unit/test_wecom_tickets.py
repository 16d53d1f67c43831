"""JS-SDK tickets: WeComClient's cache (adapters/wecom/tickets.py) against the world's ticket APIs
(devstack/wecom_world/tickets.py), the world's hourly limits and signature checks, and the open chat of the player."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.jssdk import signature
from chalicelib.ports import WeComCredentials
from devstack.wecom_world import WeComWorld, WorldError, WorldTransport
from devstack.wecom_world.tickets import APP_HOURLY_FETCHES, TICKET_TTL

CORP = "wwticketcorp0001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="app-secret-1")
PAGE = "https://siyu.example/console/t1/sidebar?x=1"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    return WeComWorld(clock=clock)


@pytest.fixture
def client(world: WeComWorld, clock: Clock) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock)


def fetches(world: WeComWorld, api: str) -> list[int]:
    return [call.errcode for call in world.calls(api)]


# --- the client's cache --------------------------------------------------------------------------------------------


def test_one_fetch_of_each_kind_serves_many_pages(client: WeComClient, world: WeComWorld) -> None:
    corp = {client.corp_jsapi_ticket(CREDS) for _ in range(3)}
    agent = {client.agent_jsapi_ticket(CREDS) for _ in range(3)}
    assert len(corp) == len(agent) == 1
    assert corp != agent  # wx.config and wx.agentConfig are signed with different tickets
    assert fetches(world, "get_jsapi_ticket") == [0]
    assert fetches(world, "ticket/get") == [0]
    assert world.calls("ticket/get")[0].payload == {"type": "agent_config"}


def test_tickets_are_cached_per_corp_and_app(client: WeComClient, world: WeComWorld) -> None:
    client.agent_jsapi_ticket(CREDS)
    client.agent_jsapi_ticket(WeComCredentials("t1", CORP, "another-app-secret"))
    client.agent_jsapi_ticket(WeComCredentials("t2", "wwothercorp0002", "app-secret-1"))
    client.agent_jsapi_ticket(CREDS)
    assert len(world.calls("ticket/get")) == 3


def test_a_ticket_is_refreshed_before_it_expires_then_replaced_once_it_has(
    client: WeComClient, world: WeComWorld, clock: Clock
) -> None:
    first = client.agent_jsapi_ticket(CREDS)
    clock.now += TICKET_TTL - 301  # inside the margin (300 s) not yet
    assert client.agent_jsapi_ticket(CREDS) == first
    assert len(world.calls("ticket/get")) == 1
    clock.now += 2  # within 300 s of the end: refreshed; WeCom still answers the same ticket, for less time
    assert client.agent_jsapi_ticket(CREDS) == first
    assert len(world.calls("ticket/get")) == 2
    clock.now += 300  # the world's ticket has expired: a new one
    assert client.agent_jsapi_ticket(CREDS) != first


def test_an_expired_access_token_is_refreshed_once_then_the_ticket_is_fetched(
    client: WeComClient, world: WeComWorld
) -> None:
    client.corp_jsapi_ticket(CREDS)  # gets a token
    world.expire_tickets(CORP)
    world.expire_tokens()
    assert client.agent_jsapi_ticket(CREDS)
    assert fetches(world, "ticket/get") == [42001, 0]
    assert len(world.calls("gettoken")) == 2


def test_a_rate_limit_without_a_cached_ticket_raises_at_once(client: WeComClient, world: WeComWorld) -> None:
    world.inject("ticket/get", 45009)
    with pytest.raises(errors.WeComRateLimitError):
        client.agent_jsapi_ticket(CREDS)
    assert fetches(world, "ticket/get") == [45009]  # no loop on a frequency limit


def test_a_failed_refresh_serves_the_still_valid_ticket(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    first = client.agent_jsapi_ticket(CREDS)
    clock.now += TICKET_TTL - 100  # due for refresh, not expired
    world.inject("ticket/get", 45009)
    assert client.agent_jsapi_ticket(CREDS) == first
    clock.now += 101  # now expired too: nothing to fall back on
    world.inject("ticket/get", 45009)
    with pytest.raises(errors.WeComRateLimitError):
        client.agent_jsapi_ticket(CREDS)


def test_concurrent_first_requests_share_one_fetch(world: WeComWorld, clock: Clock) -> None:
    threads_n = 6
    release = threading.Event()

    class GatedTransport(WorldTransport):
        """Holds the first ticket fetch until every thread is running, so they all contend for the refresh."""

        def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            if path.endswith("/ticket/get"):
                assert release.wait(timeout=5)
            return super().request(method, path, **kwargs)

    client = WeComClient(GatedTransport(world), sleep=lambda s: None, monotonic=clock)
    client.corp_jsapi_ticket(CREDS)  # the token first, so only the ticket is contended
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(client.agent_jsapi_ticket(CREDS))) for _ in range(threads_n)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert len(got) == threads_n and len(set(got)) == 1
    assert len(world.calls("ticket/get")) == 1


# --- the world -----------------------------------------------------------------------------------------------------


def ask(world: WeComWorld, client: WeComClient, api: str, **query: str) -> dict[str, Any]:
    token = client._token(CREDS)
    return world.handle(f"/cgi-bin/{api}", {"access_token": token, **query}, None)


def test_the_world_rations_fetches_per_hour(world: WeComWorld, client: WeComClient, clock: Clock) -> None:
    answers = [ask(world, client, "ticket/get", type="agent_config")["errcode"] for _ in range(APP_HOURLY_FETCHES)]
    assert answers == [0] * APP_HOURLY_FETCHES
    assert ask(world, client, "get_jsapi_ticket")["errcode"] == 45009  # both kinds count against the app
    assert world.ticket_fetches(CORP) == APP_HOURLY_FETCHES
    clock.now += 3601
    assert ask(world, client, "get_jsapi_ticket")["errcode"] == 0


def test_the_world_answers_the_same_ticket_while_it_lives(world: WeComWorld, client: WeComClient, clock: Clock) -> None:
    first = ask(world, client, "get_jsapi_ticket")
    clock.now += 1000
    again = ask(world, client, "get_jsapi_ticket")
    assert again["ticket"] == first["ticket"] and again["expires_in"] == TICKET_TTL - 1000
    clock.now += TICKET_TTL
    assert ask(world, client, "get_jsapi_ticket")["ticket"] != first["ticket"]


def test_the_app_ticket_needs_type_agent_config(world: WeComWorld, client: WeComClient) -> None:
    assert ask(world, client, "ticket/get")["errcode"] == 40058
    assert ask(world, client, "ticket/get", type="jsapi")["errcode"] == 40058


def signed(ticket: str, url: str = PAGE, nonce: str = "abcdefgh12", timestamp: int = 1_700_000_000) -> dict[str, str]:
    sig = signature(ticket=ticket, noncestr=nonce, timestamp=timestamp, url=url)
    return {"timestamp": str(timestamp), "nonceStr": nonce, "signature": sig, "url": url}


def test_the_world_verifies_signatures_with_the_current_ticket_of_their_kind(
    world: WeComWorld, client: WeComClient
) -> None:
    agent = client.agent_jsapi_ticket(CREDS)
    assert world.verify_js_signature(CORP, "agent_config", signed(agent)) == ""
    assert world.verify_js_signature(CORP, "agent_config", signed(agent) | {"url": PAGE + "#frag"}) == ""
    other_page = signed(agent) | {"url": PAGE + "&y=2"}
    assert world.verify_js_signature(CORP, "agent_config", other_page) == "invalid signature"
    assert world.verify_js_signature(CORP, "corp", signed(agent)) == "invalid signature"  # the corp's is not issued
    corp = client.corp_jsapi_ticket(CREDS)
    assert world.verify_js_signature(CORP, "corp", signed(corp)) == ""
    world.expire_tickets(CORP)
    assert world.verify_js_signature(CORP, "agent_config", signed(agent)) == "invalid signature"
    with pytest.raises(WorldError):
        world.verify_js_signature(CORP, "jsapi", signed(agent))


def test_a_chat_is_open_only_between_contacts(world: WeComWorld) -> None:
    world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmParent0001", State="ch1")
    assert world.current_chat(CORP) is None
    with pytest.raises(WorldError):
        world.open_chat(CORP, "li", "wmParent0001")
    with pytest.raises(WorldError):
        world.open_chat(CORP, "zhang", "not-an-external-id")
    world.open_chat(CORP, "zhang", "wmParent0001")
    chat = world.current_chat(CORP)
    assert chat is not None and (chat.userid, chat.external_userid) == ("zhang", "wmParent0001")
    world.event(CORP, "del_external_contact", userid="zhang", external_userid="wmParent0001")
    with pytest.raises(WorldError):
        world.open_chat(CORP, "zhang", "wmParent0001")


def test_tickets_and_the_open_chat_survive_a_snapshot(world: WeComWorld, client: WeComClient, clock: Clock) -> None:
    world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmParent0001", State="ch1")
    world.open_chat(CORP, "zhang", "wmParent0001")
    agent = client.agent_jsapi_ticket(CREDS)
    restored = WeComWorld(clock=clock)
    restored.restore(world.snapshot())
    assert restored.verify_js_signature(CORP, "agent_config", signed(agent)) == ""
    assert restored.current_chat(CORP) == world.current_chat(CORP)
    assert restored.ticket_fetches(CORP) == 1
