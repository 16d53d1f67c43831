"""WeComClient's Moments calls (客户朋友圈) against the WeCom world in process: the job completes asynchronously, who
sees a post follows the tags the world holds on each follow relation, a sender publishes from the phone or stays
未发表, and the documented limits are checked before a call is spent."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.messages import Attachment
from chalicelib.ports import Message, WeComCredentials
from chalicelib.ports.moments import JOB_DONE, PUBLISHED
from devstack.wecom_world import WeComWorld, WorldTransport

CORP = "wwmomentsclient1"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_780_000_000)


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    return WeComWorld(clock=clock)


@pytest.fixture
def client(world: WeComWorld, clock: Clock) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock)


def tagged(world: WeComWorld, client: WeComClient) -> str:
    """zhang has wmA1 (tagged) and wmB2 (not), li has wmC3 (tagged): the tag's id."""
    for userid, ext in (("zhang", "wmA1"), ("zhang", "wmB2"), ("li", "wmC3")):
        world.event(CORP, "add_external_contact", userid=userid, external_userid=ext)
    tag = client.add_corp_tags(CREDS, group_name="Siyu 朋友圈", tag_names=["p1.s1"]).tags["p1.s1"]
    client.mark_tag(CREDS, userid="zhang", external_userid="wmA1", add_tag=[tag], remove_tag=[])
    client.mark_tag(CREDS, userid="li", external_userid="wmC3", add_tag=[tag], remove_tag=[])
    return tag


def test_a_post_is_created_asynchronously_seen_by_the_tagged_and_reaches_them_once_published(
    world: WeComWorld, client: WeComClient
) -> None:
    tag = tagged(world, client)
    jobid = client.add_moment_task(CREDS, message=Message(text="开学季"), senders=["zhang", "li"], tag_ids=[tag])
    assert [client.get_moment_task_result(CREDS, jobid=jobid).status for _ in range(2)] == [1, 2]
    job = client.get_moment_task_result(CREDS, jobid=jobid)
    assert job.status == JOB_DONE and job.done and job.errcode == 0 and job.moment_id
    again = client.get_moment_task_result(CREDS, jobid=jobid)
    assert again.moment_id == job.moment_id  # one post, however often it is polled
    moment = job.moment_id
    rows = client.get_moment_task(CREDS, moment_id=moment).rows
    assert sorted((r["userid"], r["publish_status"]) for r in rows) == [("li", 0), ("zhang", 0)]
    seen = client.get_moment_customer_list(CREDS, moment_id=moment, userid="zhang").rows
    assert [r["external_userid"] for r in seen] == ["wmA1"]  # wmB2 has no tag
    assert client.get_moment_send_result(CREDS, moment_id=moment, userid="zhang").rows == ()
    assert world.pending_moments(CORP, "zhang") == [{"moment_id": moment, "text": "开学季", "visible": 1}]
    assert world.publish_moment(CORP, moment, "zhang") == ["wmA1"]
    rows = client.get_moment_task(CREDS, moment_id=moment).rows
    assert {r["userid"]: r["publish_status"] for r in rows} == {"zhang": PUBLISHED, "li": 0}
    reached = client.get_moment_send_result(CREDS, moment_id=moment, userid="zhang").rows
    assert [r["external_userid"] for r in reached] == ["wmA1"]
    assert world.pending_moments(CORP, "zhang") == []


def test_the_job_completes_after_a_short_delay_on_the_world_clock(
    world: WeComWorld, client: WeComClient, clock: Clock
) -> None:
    tag = tagged(world, client)
    jobid = client.add_moment_task(CREDS, message=Message(text="x"), senders=["zhang"], tag_ids=[tag])
    clock.now += 10
    assert client.get_moment_task_result(CREDS, jobid=jobid).done


def test_unknown_senders_and_tags_are_reported_and_no_valid_sender_makes_no_post(
    world: WeComWorld, client: WeComClient, clock: Clock
) -> None:
    tag = tagged(world, client)
    jobid = client.add_moment_task(CREDS, message=Message(text="x"), senders=["zhang", "ghost"], tag_ids=[tag, "etX"])
    clock.now += 10
    job = client.get_moment_task_result(CREDS, jobid=jobid)
    assert job.invalid_senders == ("ghost",) and job.invalid_tags == ("etX",) and job.moment_id
    lone = client.add_moment_task(CREDS, message=Message(text="x"), senders=["ghost"], tag_ids=[tag])
    clock.now += 10
    failed = client.get_moment_task_result(CREDS, jobid=lone)
    assert failed.done and failed.errcode == 40058 and failed.moment_id == ""


@pytest.mark.parametrize(
    ("message", "senders"),
    [
        (Message(), ["zhang"]),
        (Message(text="字" * 2001), ["zhang"]),
        (Message(text="x", attachments=(Attachment("file", {"media_id": "m"}),)), ["zhang"]),
        (Message(text="x", attachments=(Attachment("image", {"pic_url": "https://x"}),)), ["zhang"]),
        (Message(text="x"), []),
    ],
)
def test_what_wecom_would_refuse_is_refused_before_a_call(
    world: WeComWorld, client: WeComClient, message: Message, senders: list[str]
) -> None:
    with pytest.raises(errors.InvalidError):
        client.add_moment_task(CREDS, message=message, senders=senders, tag_ids=[])
    assert world.calls("externalcontact/add_moment_task") == []


def test_the_world_refuses_an_unknown_image_and_an_unknown_moment(world: WeComWorld, client: WeComClient) -> None:
    image = Message(text="x", attachments=(Attachment("image", {"media_id": "nope"}),))
    with pytest.raises(errors.WeComError) as raised:
        client.add_moment_task(CREDS, message=image, senders=["zhang"], tag_ids=[])
    assert raised.value.errcode == 40007
    with pytest.raises(errors.WeComError):
        client.get_moment_task(CREDS, moment_id="mo-unknown")
