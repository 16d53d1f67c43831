"""WeComClient against the in-memory WeCom world (WorldTransport): token handling, retry rules, errcode mapping,
welcome outcomes, client-side limits and the mapping of answers onto the port's DTOs. No sleeps: the client gets
a recording ``sleep`` and the world's clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.errcodes import error_for
from chalicelib.ports import Attachment, Message, WeComCredentials, WelcomeOutcome
from devstack.wecom_world import SEND_LIMIT, SEND_NOT_FRIEND, SEND_OK, WeComWorld, WorldTransport

CORP = "wwclienttest0001"
SECRET = "contact-secret-1"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret=SECRET)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # a PNG signature and some bytes: what the world checks is type and size
HELLO = Message(text="你好，欢迎！")


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
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(world: WeComWorld, clock: Clock, sleeps: list[float]) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=sleeps.append, monotonic=clock)


def api_calls(world: WeComWorld, api: str) -> list[int]:
    """The errcodes ``api`` answered, in order."""
    return [call.errcode for call in world.calls(api)]


def befriend(world: WeComWorld, userid: str = "zhangsan", ext: str = "wmParent0001", state: str = "ch1") -> str:
    event = world.event(CORP, "add_external_contact", userid=userid, external_userid=ext, State=state)
    return str(event["WelcomeCode"])


# --- access_token --------------------------------------------------------------------------------------------------


def test_one_gettoken_serves_many_calls(client: WeComClient, world: WeComWorld) -> None:
    for i in range(3):
        client.add_contact_way(CREDS, users=["zhangsan"], state=f"ch{i}")
    client.get_corp_tag_list(CREDS)
    assert api_calls(world, "gettoken") == [0]
    assert api_calls(world, "externalcontact/add_contact_way") == [0, 0, 0]


def test_tokens_are_cached_per_corp_and_secret(client: WeComClient, world: WeComWorld) -> None:
    client.get_corp_tag_list(CREDS)
    client.get_corp_tag_list(WeComCredentials("t1", CORP, "rotated-secret"))
    client.get_corp_tag_list(WeComCredentials("t2", "wwanothercorp", SECRET))
    client.get_corp_tag_list(CREDS)
    assert len(world.calls("gettoken")) == 3


def test_token_is_refreshed_before_it_expires(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    client.get_corp_tag_list(CREDS)
    clock.now += 7200 - 301
    client.get_corp_tag_list(CREDS)
    assert len(world.calls("gettoken")) == 1
    clock.now += 2  # inside the 300 s safety margin
    client.get_corp_tag_list(CREDS)
    assert len(world.calls("gettoken")) == 2
    assert api_calls(world, "externalcontact/get_corp_tag_list") == [0, 0, 0]


def test_expired_token_is_refreshed_exactly_once_then_the_call_succeeds(client: WeComClient, world: WeComWorld) -> None:
    client.get_corp_tag_list(CREDS)
    world.expire_tokens()
    client.get_corp_tag_list(CREDS)
    assert api_calls(world, "externalcontact/get_corp_tag_list") == [0, 42001, 0]
    assert len(world.calls("gettoken")) == 2
    client.get_corp_tag_list(CREDS)  # the new token is cached
    assert len(world.calls("gettoken")) == 2


def test_a_token_rejected_twice_is_not_refreshed_again(client: WeComClient, world: WeComWorld) -> None:
    world.inject("externalcontact/get_corp_tag_list", 40014, times=2)
    with pytest.raises(errors.WeComTokenError) as info:
        client.get_corp_tag_list(CREDS)
    assert info.value.errcode == 40014
    assert api_calls(world, "externalcontact/get_corp_tag_list") == [40014, 40014]
    assert len(world.calls("gettoken")) == 2


def test_concurrent_first_calls_share_one_gettoken(
    world: WeComWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads_n = 8
    entered, all_in, count_lock = [0], threading.Event(), threading.Lock()

    class GatedTransport(WorldTransport):
        """Holds the first gettoken until every thread has asked for a token, so they all contend."""

        def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            if path.endswith("/gettoken"):
                assert all_in.wait(timeout=5)
            return super().request(method, path, **kwargs)

    client = WeComClient(GatedTransport(world), sleep=lambda s: None, monotonic=clock)
    real_token = client._token

    def counting_token(creds: WeComCredentials, *, stale: str | None = None) -> str:
        with count_lock:
            entered[0] += 1
            if entered[0] == threads_n:
                all_in.set()
        return real_token(creds, stale=stale)

    monkeypatch.setattr(client, "_token", counting_token)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            client.get_corp_tag_list(CREDS)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(world.calls("gettoken")) == 1
    assert len(world.calls("externalcontact/get_corp_tag_list")) == threads_n


# --- busy, rate limits, errcode mapping ----------------------------------------------------------------------------


def test_busy_is_retried_with_exponential_backoff(client: WeComClient, world: WeComWorld, sleeps: list[float]) -> None:
    world.inject("externalcontact/get_corp_tag_list", -1, times=2)
    assert client.get_corp_tag_list(CREDS) == []
    assert api_calls(world, "externalcontact/get_corp_tag_list") == [-1, -1, 0]
    assert sleeps == pytest.approx([0.2, 0.4])


def test_busy_gives_up_after_max_retries(client: WeComClient, world: WeComWorld, sleeps: list[float]) -> None:
    world.inject("externalcontact/get_corp_tag_list", -1, times=10)
    with pytest.raises(errors.WeComBusyError) as info:
        client.get_corp_tag_list(CREDS)
    assert info.value.status == 503
    assert api_calls(world, "externalcontact/get_corp_tag_list") == [-1, -1, -1, -1]
    assert sleeps == pytest.approx([0.2, 0.4, 0.8])


def test_busy_gettoken_is_retried_too(client: WeComClient, world: WeComWorld, sleeps: list[float]) -> None:
    world.inject("gettoken", -1)
    client.get_corp_tag_list(CREDS)
    assert api_calls(world, "gettoken") == [-1, 0]
    assert sleeps == pytest.approx([0.2])


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_rate_limits_raise_at_once(client: WeComClient, world: WeComWorld, sleeps: list[float], errcode: int) -> None:
    world.inject("externalcontact/add_contact_way", errcode, times=5)
    with pytest.raises(errors.WeComRateLimitError) as info:
        client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    assert info.value.errcode == errcode
    assert api_calls(world, "externalcontact/add_contact_way") == [errcode]
    assert world.calls("externalcontact/add_contact_way")[0].corp_id == CORP
    assert sleeps == []


def test_wrong_secret_is_an_auth_error(client: WeComClient, world: WeComWorld) -> None:
    world.register_corp(CORP, secret="the-real-secret")
    with pytest.raises(errors.WeComAuthError) as info:
        client.get_corp_tag_list(CREDS)
    assert info.value.errcode == 40001
    assert world.calls("externalcontact/get_corp_tag_list") == []


@pytest.mark.parametrize(
    ("errcode", "cls"),
    [
        (-1, errors.WeComBusyError),
        (40014, errors.WeComTokenError),
        (42001, errors.WeComTokenError),
        (45009, errors.WeComRateLimitError),
        (45033, errors.WeComRateLimitError),
        (40001, errors.WeComAuthError),
        (40013, errors.WeComAuthError),
        (48002, errors.WeComAuthError),
        (60020, errors.WeComAuthError),
        (40096, errors.WeComInvalidArgumentError),
        (40058, errors.WeComInvalidArgumentError),
        (84061, errors.WeComInvalidArgumentError),
        (41050, errors.WeComInvalidArgumentError),
        (6000, errors.WeComError),
        (99999, errors.WeComError),
    ],
)
def test_errcode_mapping(errcode: int, cls: type[errors.WeComError]) -> None:
    exc = error_for(errcode, "whatever WeCom says", api="externalcontact/get")
    assert type(exc) is cls
    assert (exc.errcode, exc.api) == (errcode, "externalcontact/get")
    assert exc.details == {"errcode": errcode, "api": "externalcontact/get"}


@pytest.mark.parametrize("errcode", [48002, 60020])
def test_configuration_errcodes_surface_as_auth_errors(client: WeComClient, world: WeComWorld, errcode: int) -> None:
    world.inject("externalcontact/mark_tag", errcode)
    with pytest.raises(errors.WeComAuthError):
        client.mark_tag(CREDS, userid="zhangsan", external_userid="wmParent0001", add_tag=["et1"], remove_tag=[])


def test_invalid_external_userid_and_missing_relationship(client: WeComClient) -> None:
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.get_external_contact(CREDS, "not-an-external-id")
    assert info.value.errcode == 40096
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.get_external_contact(CREDS, "wmNeverAdded0001")
    assert info.value.errcode == 84061


# --- welcome messages ----------------------------------------------------------------------------------------------


def test_welcome_is_sent_once_then_reported_as_delivered(client: WeComClient, world: WeComWorld) -> None:
    code = befriend(world)
    message = Message(text="欢迎", attachments=(Attachment("link", {"title": "课程", "url": "https://e.x/1"}),))
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=message) == WelcomeOutcome.SENT
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=message) == WelcomeOutcome.ALREADY_DELIVERED
    delivered = world.welcome_messages()
    assert len(delivered) == 1
    assert delivered[0]["external_userid"] == "wmParent0001"
    assert delivered[0]["text"] == "欢迎"
    assert delivered[0]["attachments"] == [{"msgtype": "link", "link": {"title": "课程", "url": "https://e.x/1"}}]


def test_welcome_code_is_valid_for_20_seconds(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    late = befriend(world, ext="wmParent0001")
    on_time = befriend(world, ext="wmParent0002")
    clock.now += 20
    assert client.send_welcome_msg(CREDS, welcome_code=on_time, message=HELLO) == WelcomeOutcome.SENT
    clock.now += 1
    assert client.send_welcome_msg(CREDS, welcome_code=late, message=HELLO) == WelcomeOutcome.EXPIRED
    assert api_calls(world, "externalcontact/send_welcome_msg") == [0, 41050]


def test_unknown_welcome_code_is_expired(client: WeComClient) -> None:
    assert client.send_welcome_msg(CREDS, welcome_code="WCnope", message=HELLO) == WelcomeOutcome.EXPIRED


@pytest.mark.parametrize(
    ("errcode", "outcome"),
    [
        (41051, WelcomeOutcome.ALREADY_DELIVERED),
        (41096, WelcomeOutcome.OTHER_APP),
        (41050, WelcomeOutcome.EXPIRED),
        (40058, WelcomeOutcome.FAILED),
        (48002, WelcomeOutcome.FAILED),
        (45009, WelcomeOutcome.FAILED),
    ],
)
def test_welcome_errcodes_become_outcomes_without_retry(
    client: WeComClient, world: WeComWorld, sleeps: list[float], errcode: int, outcome: str
) -> None:
    code = befriend(world)
    world.inject("externalcontact/send_welcome_msg", errcode, times=3)
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=HELLO) == outcome
    assert api_calls(world, "externalcontact/send_welcome_msg") == [errcode]
    assert sleeps == []


def test_welcome_busy_is_retried_then_fails(client: WeComClient, world: WeComWorld, sleeps: list[float]) -> None:
    code = befriend(world)
    world.inject("externalcontact/send_welcome_msg", -1, times=4)
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=HELLO) == WelcomeOutcome.FAILED
    assert api_calls(world, "externalcontact/send_welcome_msg") == [-1, -1, -1, -1]
    assert len(sleeps) == 3


def test_welcome_busy_once_then_sent(client: WeComClient, world: WeComWorld) -> None:
    code = befriend(world)
    world.inject("externalcontact/send_welcome_msg", -1)
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=HELLO) == WelcomeOutcome.SENT
    assert api_calls(world, "externalcontact/send_welcome_msg") == [-1, 0]


# --- client-side limits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.add_contact_way(CREDS, users=["u"], state="s" * 31),
        lambda c: c.add_contact_way(CREDS, users=["u"], state="s", remark="r" * 31),
        lambda c: c.add_contact_way(CREDS, users=[], state="s"),
        lambda c: c.add_contact_way(CREDS, users=[f"u{i}" for i in range(101)], state="s"),
        lambda c: c.update_contact_way(CREDS, config_id="c", users=["u"], state="状" * 31),
        lambda c: c.send_welcome_msg(CREDS, welcome_code="WC", message=Message(text="字" * 1334)),  # 4002 bytes
        lambda c: c.send_welcome_msg(CREDS, welcome_code="WC", message=Message()),
        lambda c: c.send_welcome_msg(CREDS, welcome_code="", message=HELLO),
        lambda c: c.send_welcome_msg(
            CREDS, welcome_code="WC", message=Message(attachments=tuple(Attachment("image", {}) for _ in range(10)))
        ),
        lambda c: c.add_msg_template(CREDS, sender="u", external_userids=[], message=HELLO),
        lambda c: c.add_msg_template(
            CREDS, sender="u", external_userids=[f"wm{i:08d}" for i in range(10_001)], message=HELLO
        ),
        lambda c: c.add_msg_template(CREDS, sender="", external_userids=["wm1"], message=HELLO),
        lambda c: c.add_msg_template(CREDS, sender="u", chat_type="group", chat_ids=[], message=HELLO),
        lambda c: c.add_msg_template(
            CREDS, sender="u", chat_type="group", chat_ids=[f"wr{i:08d}" for i in range(2_001)], message=HELLO
        ),
        lambda c: c.add_msg_template(
            CREDS, sender="u", chat_type="group", chat_ids=["wr1"], external_userids=["wm1"], message=HELLO
        ),
        lambda c: c.add_msg_template(CREDS, sender="u", external_userids=["wm1"], chat_ids=["wr1"], message=HELLO),
        lambda c: c.add_msg_template(CREDS, sender="u", chat_type="moments", external_userids=["wm1"], message=HELLO),
        lambda c: c.mark_tag(CREDS, userid="u", external_userid="wm1", add_tag=[], remove_tag=[]),
        lambda c: c.add_corp_tags(CREDS, group_name="g" * 31, tag_names=["t"]),
        lambda c: c.add_corp_tags(CREDS, group_name="g", tag_names=["t" * 31]),
        lambda c: c.del_corp_tags(CREDS, tag_ids=[], group_ids=[]),
        lambda c: c.get_external_contact(CREDS, ""),
    ],
)
def test_limits_are_checked_before_any_call(
    client: WeComClient, world: WeComWorld, call: Callable[[WeComClient], object]
) -> None:
    with pytest.raises(errors.InvalidError):
        call(client)
    assert world.calls() == []


def test_limits_are_inclusive(client: WeComClient, world: WeComWorld) -> None:
    way = client.add_contact_way(CREDS, users=["u"], state="状" * 30, remark="r" * 30)
    assert way.config_id
    code = befriend(world)
    text = "字" * 1333 + "a"  # exactly 4000 bytes
    assert len(text.encode()) == 4000
    media = [client.upload_media(CREDS, media_type="image", filename=f"{i}.png", content_type="image/png",
                                 data=PNG) for i in range(9)]  # fmt: skip
    nine = tuple(Attachment("image", {"media_id": m.media_id}) for m in media)  # WeCom takes only media it issued
    outcome = client.send_welcome_msg(CREDS, welcome_code=code, message=Message(text=text, attachments=nine))
    assert outcome == WelcomeOutcome.SENT


# --- contact ways --------------------------------------------------------------------------------------------------


def test_contact_way_type_follows_the_number_of_users(client: WeComClient, world: WeComWorld) -> None:
    single = client.add_contact_way(CREDS, users=["zhangsan"], state="ch1", remark="春季")
    multi = client.add_contact_way(CREDS, users=["zhangsan", "lisi"], state="ch2")
    payloads = [call.payload for call in world.calls("externalcontact/add_contact_way")]
    assert [(p["type"], p["scene"], p["skip_verify"]) for p in payloads] == [(1, 2, True), (2, 2, True)]
    assert payloads[0]["user"] == ["zhangsan"] and payloads[0]["state"] == "ch1" and payloads[0]["remark"] == "春季"
    assert single.qr_code == f"http://sandbox/qr/{single.config_id}"
    assert multi.config_id != single.config_id


def test_update_and_delete_contact_way(client: WeComClient, world: WeComWorld) -> None:
    way = client.add_contact_way(CREDS, users=["zhangsan", "lisi"], state="ch1")
    client.update_contact_way(CREDS, config_id=way.config_id, users=["wangwu", "lisi"], state="ch1b")
    assert world.scan(CORP, "ch1b")["UserID"] == "wangwu"
    client.del_contact_way(CREDS, config_id=way.config_id)
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.del_contact_way(CREDS, config_id=way.config_id)
    assert info.value.errcode == 41044


def test_contact_way_quota(world: WeComWorld, client: WeComClient) -> None:
    world.max_contact_ways = 2
    client.add_contact_way(CREDS, users=["u"], state="a")
    client.add_contact_way(CREDS, users=["u"], state="b")
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.add_contact_way(CREDS, users=["u"], state="c")
    assert info.value.errcode == 41045


# --- customers and tags --------------------------------------------------------------------------------------------


def test_external_contact_maps_profile_and_follow_users(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    world.register_contact(CORP, "wmParent0001", remark_mobiles=["13800000000"])
    befriend(world, userid="zhangsan", state="ch_spring")
    group = client.add_corp_tags(CREDS, group_name="年级", tag_names=["一年级", "二年级"])
    client.mark_tag(
        CREDS, userid="zhangsan", external_userid="wmParent0001", add_tag=[group.tags["一年级"]], remove_tag=[]
    )
    profile = client.get_external_contact(CREDS, "wmParent0001")
    assert profile.external_userid == "wmParent0001"
    assert profile.name.startswith("家长") and len(profile.name) == 6
    assert profile.unionid.startswith("o") and len(profile.unionid) == 28
    assert profile.gender in (0, 1, 2) and profile.avatar.startswith("http://sandbox/avatar/")
    (follow,) = profile.follow_users
    assert follow.userid == "zhangsan"
    assert follow.state == "ch_spring"
    assert follow.createtime == int(clock.now)
    assert follow.remark_mobiles == ("13800000000",)
    assert follow.tag_ids == (group.tags["一年级"],)
    assert client.get_external_contact(CREDS, "wmParent0001") == profile  # deterministic


def test_unionid_is_empty_without_an_open_platform_binding(client: WeComClient, world: WeComWorld) -> None:
    world.register_corp(CORP, unionid=False)
    befriend(world)
    assert client.get_external_contact(CREDS, "wmParent0001").unionid == ""


def test_follow_users_are_read_across_pages(client: WeComClient, world: WeComWorld) -> None:
    world.follow_page_size = 1
    befriend(world, userid="zhangsan")
    befriend(world, userid="lisi")
    befriend(world, userid="wangwu")
    profile = client.get_external_contact(CREDS, "wmParent0001")
    assert [f.userid for f in profile.follow_users] == ["zhangsan", "lisi", "wangwu"]
    assert api_calls(world, "externalcontact/get") == [0, 0, 0]


def test_add_corp_tags_creates_then_extends_the_named_group(client: WeComClient, world: WeComWorld) -> None:
    first = client.add_corp_tags(CREDS, group_name="意向", tag_names=["高", "中"])
    assert set(first.tags) == {"高", "中"}
    second = client.add_corp_tags(CREDS, group_name="意向", tag_names=["中", "低"])
    assert second.group_id == first.group_id
    assert second.tags == {**first.tags, "低": second.tags["低"]}
    assert [c.payload for c in world.calls("externalcontact/add_corp_tag")] == [
        {"group_name": "意向", "tag": [{"name": "高"}, {"name": "中"}]},
        {"group_id": first.group_id, "tag": [{"name": "低"}]},
    ]
    third = client.add_corp_tags(CREDS, group_name="意向", tag_names=["低", "高"])
    assert third == second
    assert len(world.calls("externalcontact/add_corp_tag")) == 2
    assert client.get_corp_tag_list(CREDS) == [second]


def test_del_corp_tags_and_tag_quota(client: WeComClient, world: WeComWorld) -> None:
    group = client.add_corp_tags(CREDS, group_name="来源", tag_names=["抖音", "小红书"])
    client.del_corp_tags(CREDS, tag_ids=[group.tags["抖音"]], group_ids=[])
    (left,) = client.get_corp_tag_list(CREDS)
    assert left.tags == {"小红书": group.tags["小红书"]}
    world.max_tags = 2
    client.add_corp_tags(CREDS, group_name="来源", tag_names=["视频号"])
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.add_corp_tags(CREDS, group_name="其他", tag_names=["x"])
    assert info.value.errcode == 40126
    client.del_corp_tags(CREDS, tag_ids=[], group_ids=[group.group_id])
    assert client.get_corp_tag_list(CREDS) == []


# --- mass messages -------------------------------------------------------------------------------------------------


def test_mass_message_task_lifecycle(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    world.register_corp(CORP, monthly_limit=1)
    for ext in ("wmParent0001", "wmParent0002", "wmParent0003"):
        befriend(world, ext=ext)
    first = client.add_msg_template(
        CREDS, sender="zhangsan", external_userids=["wmParent0001", "wmStranger001"], message=HELLO
    )
    assert first.fail_list == ("wmStranger001",)
    pending = client.get_groupmsg_task(CREDS, msgid=first.msgid)
    assert pending == {"next_cursor": "", "task_list": [{"userid": "zhangsan", "status": 0}]}
    world.confirm_task(first.msgid, "zhangsan")
    sent = client.get_groupmsg_task(CREDS, msgid=first.msgid)
    assert sent["task_list"] == [{"userid": "zhangsan", "status": 2, "send_time": int(clock.now)}]

    second = client.add_msg_template(
        CREDS, sender="zhangsan", external_userids=["wmParent0001", "wmParent0002", "wmParent0003"], message=HELLO
    )
    world.event(CORP, "del_follow_user", userid="zhangsan", external_userid="wmParent0003")
    assert world.confirm_task(second.msgid, "zhangsan") == {"sent": 1, "not_friend": 1, "limit_hit": 1}
    result = client.get_groupmsg_send_result(CREDS, msgid=second.msgid, userid="zhangsan")
    statuses = {row["external_userid"]: row["status"] for row in result["send_list"]}
    assert statuses == {"wmParent0001": SEND_LIMIT, "wmParent0002": SEND_OK, "wmParent0003": SEND_NOT_FRIEND}
    assert result["next_cursor"] == ""
    assert [c.payload["limit"] for c in world.calls("externalcontact/get_groupmsg_send_result")] == [1000]


class AcceptAll:
    """A transport that answers every call with success and keeps each request body (what goes on the wire)."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[dict[str, Any]]] = {}

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        self.bodies.setdefault(path.rsplit("/cgi-bin/", 1)[-1], []).append(dict(body or {}))
        return {"errcode": 0, "access_token": "tok", "expires_in": 7200, "msgid": "msg1", "fail_list": []}


def test_mass_message_chat_type_and_recipients_go_on_the_wire_as_wecom_documents_them() -> None:
    transport = AcceptAll()
    client = WeComClient(transport, sleep=lambda s: None)
    client.add_msg_template(CREDS, sender="u", external_userids=["wm1", "wm2"], message=HELLO)
    chats = [f"wr{i:08d}" for i in range(2_000)]  # the group limit is inclusive
    client.add_msg_template(CREDS, sender="u", chat_type="group", chat_ids=chats, message=HELLO)
    single, group = transport.bodies["externalcontact/add_msg_template"]
    assert (single["chat_type"], single["external_userid"], "chat_id_list" in single) == (
        "single",
        ["wm1", "wm2"],
        False,
    )
    assert (group["chat_type"], group["chat_id_list"], "external_userid" in group) == ("group", chats, False)
    assert group["sender"] == "u" and group["text"] == {"content": HELLO.text}


def test_mass_message_to_nobody_reachable_is_rejected(client: WeComClient) -> None:
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.add_msg_template(CREDS, sender="zhangsan", external_userids=["wmStranger001"], message=HELLO)
    assert info.value.errcode == 41048


def test_unknown_msgid(client: WeComClient) -> None:
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.get_groupmsg_task(CREDS, msgid="msgnope")
    assert info.value.errcode == 41047


def test_groupmsg_list_filters_by_time_and_creator(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    befriend(world, userid="zhangsan", ext="wmParent0001")
    befriend(world, userid="lisi", ext="wmParent0002")
    start = int(clock.now)
    a = client.add_msg_template(CREDS, sender="zhangsan", external_userids=["wmParent0001"], message=HELLO)
    clock.now += 3600
    b = client.add_msg_template(CREDS, sender="lisi", external_userids=["wmParent0002"], message=HELLO)
    clock.now += 3600
    c = client.add_msg_template(CREDS, sender="zhangsan", external_userids=["wmParent0001"], message=HELLO)
    window = client.get_groupmsg_list(CREDS, start_time=start, end_time=start + 3600)
    assert [m["msgid"] for m in window["group_msg_list"]] == [a.msgid, b.msgid]
    mine = client.get_groupmsg_list(CREDS, start_time=start, end_time=start + 7200, creator="zhangsan")
    assert [m["msgid"] for m in mine["group_msg_list"]] == [a.msgid, c.msgid]
    assert mine["group_msg_list"][0]["text"] == {"content": HELLO.text}


# --- hygiene -------------------------------------------------------------------------------------------------------


def test_secrets_and_tokens_never_reach_logs_errors_or_the_call_log(
    client: WeComClient, world: WeComWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get_corp_tag_list(CREDS)
    token = world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": SECRET}, None)["access_token"]
    world.expire_tokens()
    client.get_corp_tag_list(CREDS)  # 42001, refresh
    world.inject("externalcontact/get_corp_tag_list", 45009)
    with pytest.raises(errors.WeComRateLimitError) as info:
        client.get_corp_tag_list(CREDS)
    records = [str(r.__dict__) for r in caplog.records]
    assert records, "the client should log refreshes and failures"
    text = " ".join(records) + str(info.value) + str(info.value.to_body())
    assert SECRET not in text and token not in text and "access_token=" not in text
    for call in world.calls():
        assert SECRET not in str(call.payload) and "access_token" not in call.payload
