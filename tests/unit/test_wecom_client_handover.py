"""WeComClient's 客户继承 calls against the WeCom world in process: a transfer waits 24 h then moves the relation,
the customer can refuse, a full takeover staff member fails it, a customer handed over too often is refused with
WeCom's errcode, resigned staff's customers are listed and handed over, and the documented limits are checked before
a call is spent."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.ports import WeComCredentials
from chalicelib.ports.handover import LIMIT_EXCEEDED, REFUSED, TAKEN_OVER, WAITING
from devstack.wecom_world import WeComWorld, WorldTransport

CORP = "wwhandoverclient"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    w = WeComWorld(clock=clock)
    for ext in ("wmA1", "wmB2", "wmC3"):
        w.event(CORP, "add_external_contact", userid="zhang", external_userid=ext)
    return w


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def _transfer(client: WeComClient, *ids: str, takeover: str = "li", resigned: bool = False) -> dict[str, int]:
    answers = client.transfer_customers(
        CREDS, handover_userid="zhang", takeover_userid=takeover, external_userids=list(ids), resigned=resigned
    )
    return {a.external_userid: a.errcode for a in answers}


def _statuses(client: WeComClient, takeover: str = "li", resigned: bool = False) -> dict[str, int]:
    page = client.transfer_results(CREDS, handover_userid="zhang", takeover_userid=takeover, resigned=resigned)
    return {row.external_userid: row.status for row in page.customers}


def test_a_transfer_waits_24_hours_then_the_relation_moves(
    world: WeComWorld, client: WeComClient, clock: Clock
) -> None:
    assert _transfer(client, "wmA1", "wmZ9") == {"wmA1": 0, "wmZ9": 84061}  # wmZ9 is not zhang's customer
    assert world.calls("externalcontact/transfer_customer")[0].payload["external_userid"] == ["wmA1", "wmZ9"]
    assert _statuses(client) == {"wmA1": WAITING}
    clock.now += DAY - 1
    assert _statuses(client) == {"wmA1": WAITING}
    clock.now += 1
    page = client.transfer_results(CREDS, handover_userid="zhang", takeover_userid="li", resigned=False)
    assert [(r.status, r.takeover_time) for r in page.customers] == [(TAKEN_OVER, int(clock.now))]
    assert [f.userid for f in client.get_external_contact(CREDS, "wmA1").follow_users] == ["li"]
    told = world.transfer_callbacks(CORP)
    assert [(c["ChangeType"], c["UserID"], c.get("Source")) for c in told] == [
        ("del_external_contact", "zhang", "DELETE_BY_TRANSFER")
    ]
    assert world.transfer_callbacks(CORP) == []  # told once


def test_a_customer_in_transfer_or_handed_over_too_often_is_refused(client: WeComClient, clock: Clock) -> None:
    assert _transfer(client, "wmA1") == {"wmA1": 0}
    assert _transfer(client, "wmA1") == {"wmA1": 40129}  # already being handed over
    clock.now += DAY
    assert _statuses(client) == {"wmA1": TAKEN_OVER}
    back = client.transfer_customers(CREDS, handover_userid="li", takeover_userid="zhang", external_userids=["wmA1"])
    assert [a.errcode for a in back] == [40128]  # once in 90 days


def test_the_customer_refuses_and_siyu_is_told(world: WeComWorld, client: WeComClient, clock: Clock) -> None:
    _transfer(client, "wmA1", "wmB2")
    told = world.refuse_transfer(CORP, "wmA1")
    assert [(c["ChangeType"], c["FailReason"], c["UserID"], c["ExternalUserID"]) for c in told] == [
        ("transfer_fail", "customer_refused", "li", "wmA1")
    ]
    clock.now += DAY
    assert _statuses(client) == {"wmA1": REFUSED, "wmB2": TAKEN_OVER}
    assert [f.userid for f in client.get_external_contact(CREDS, "wmA1").follow_users] == ["zhang"]


def test_a_takeover_staff_member_at_their_limit_fails_the_transfer(
    world: WeComWorld, client: WeComClient, clock: Clock
) -> None:
    world.set_customer_limit(CORP, "li", 0)
    _transfer(client, "wmA1")
    clock.now += DAY
    assert _statuses(client) == {"wmA1": LIMIT_EXCEEDED}
    told = world.transfer_callbacks(CORP)
    assert [(c["ChangeType"], c["FailReason"]) for c in told] == [("transfer_fail", "customer_limit_exceed")]


def test_resigned_staff_customers_are_listed_and_handed_over(
    world: WeComWorld, client: WeComClient, clock: Clock
) -> None:
    assert client.unassigned_customers(CREDS).customers == ()
    with pytest.raises(errors.WeComInvalidArgumentError) as exc:  # 40097: zhang has not resigned
        _transfer(client, "wmA1", resigned=True)
    assert exc.value.errcode == 40097
    world.resign(CORP, "zhang")
    page = client.unassigned_customers(CREDS, page_size=2)
    assert [(c.handover_userid, c.external_userid) for c in page.customers] == [("zhang", "wmA1"), ("zhang", "wmB2")]
    assert page.is_last is False and page.next_cursor
    rest = client.unassigned_customers(CREDS, cursor=page.next_cursor, page_size=2)
    assert [c.external_userid for c in rest.customers] == ["wmC3"] and rest.is_last
    assert _transfer(client, "wmA1", resigned=True) == {"wmA1": 0}
    assert [c.external_userid for c in client.unassigned_customers(CREDS).customers] == ["wmB2", "wmC3"]
    assert _statuses(client, resigned=True) == {"wmA1": WAITING}
    assert _statuses(client, resigned=False) == {}  # 在职 and 离职 results are separate
    clock.now += DAY
    assert _statuses(client, resigned=True) == {"wmA1": TAKEN_OVER}


def test_documented_limits_are_checked_before_a_call(world: WeComWorld, client: WeComClient) -> None:
    with pytest.raises(errors.InvalidError):
        _transfer(client, *[f"wm{i:04d}" for i in range(101)])
    with pytest.raises(errors.InvalidError):
        client.transfer_customers(
            CREDS, handover_userid="zhang", takeover_userid="li", external_userids=["wmA1"], success_msg="好" * 201
        )
    with pytest.raises(errors.InvalidError):
        client.unassigned_customers(CREDS, page_size=1001)
    assert world.calls("externalcontact/transfer_customer") == []
    assert world.calls("externalcontact/get_unassigned_list") == []


def test_transfers_survive_a_snapshot(world: WeComWorld, client: WeComClient, clock: Clock) -> None:
    _transfer(client, "wmA1")
    world.resign(CORP, "wang")
    restored = WeComWorld(clock=clock)
    restored.restore(world.snapshot())
    assert restored.transfers(CORP) == world.transfers(CORP)
    assert restored.corps[CORP].resigned == {"wang": int(clock.now)}
