"""Link channels (获客链接) with the in-memory store and the in-process WeCom world: creating one makes one WeCom
link for its staff; an add through the link's URL is attributed, tagged and welcomed like a QR scan; edits and
deletes follow to WeCom; every crash window leaves one link or none; the quota shows with its warning."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import errors
from chalicelib.domain.acquisition import QuotaView, handout_url, link_name
from chalicelib.domain.channels import Channel
from chalicelib.services.channel_links import channel_id_for
from tests.fakes.store import FakeStore
from tests.unit.conftest import CORP, Env, make_env

CREATE = "externalcontact/customer_acquisition/create_link"


def _link_channel(env: Env, key: str | None = None, **overrides: Any) -> Channel:
    data: dict[str, Any] = {
        "name": "抖音信息流·12月",
        "kind": "link",
        "source": "douyin",
        "staff": {"mode": "round_robin", "userids": ["zhang", "li"]},
        "welcome": {"text": "您好，试听课资料稍后发您"},
        "tags": [{"group": "流量平台来源", "name": "抖音"}],
    }
    data.update(overrides)
    channel: Channel = env.svc.channels.create(env.tenant, data, request_key=key)
    return channel


def _open(env: Env, channel: Channel, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    url = channel.public()["url"]
    fields = env.world.open_link(CORP, url, **kwargs)
    return fields, env.deliver(fields)


def test_handout_url_and_link_name() -> None:
    assert handout_url("http://s/ca/x", "ch_1") == "http://s/ca/x?customer_channel=ch_1"
    assert handout_url("http://s/ca/x?a=1", "ch_1") == "http://s/ca/x?a=1&customer_channel=ch_1"
    assert handout_url("", "ch_1") == ""
    name = link_name("一个很长很长很长很长很长很长很长很长很长很长的渠道名", "ch_abcdefgh12345678")
    assert len(name) == 30 and name.endswith("·12345678")


@pytest.mark.parametrize(
    ("total", "balance", "low", "exhausted"),
    [
        (1000, 1000, False, False),
        (1000, 150, False, False),
        (1000, 99, True, False),
        (5000, 400, True, False),
        (1000, 0, True, True),
    ],
)
def test_quota_warning(total: int, balance: int, low: bool, exhausted: bool) -> None:
    q = QuotaView(total, balance)
    assert (q.low, q.exhausted) == (low, exhausted)
    assert (q.warning is not None) is low
    assert q.public()["warning"] == q.warning


def test_creating_a_link_channel_makes_one_link_for_its_staff(env: Env) -> None:
    ch = _link_channel(env)
    [link] = env.world.links(CORP)
    assert ch.kind == "link" and ch.link_id == link["link_id"] and ch.link_url == link["url"]
    assert link["users"] == ["zhang", "li"] and link["link_name"] == link_name(ch.name, ch.channel_id)
    url = ch.public()["url"]
    assert parse_qs(urlsplit(url).query) == {"customer_channel": [ch.channel_id]}
    assert env.calls("externalcontact/add_contact_way") == 0
    assert env.svc.channels.get("unit", ch.channel_id) == ch


def test_an_add_through_the_link_is_attributed_tagged_and_welcomed(env: Env) -> None:
    ch = _link_channel(env)
    fields, result = _open(env, ch)
    assert fields["State"] == ch.channel_id and result.outcome == "created"
    c = env.store.get_customer("unit", result.customer_id)
    assert c.source_channel_id == ch.channel_id and c.owner_userid == "zhang"
    assert {t.tag_id for t in ch.tags} <= c.tags
    assert [w["text"] for w in env.world.welcome_messages()] == ["您好，试听课资料稍后发您"]
    assert env.counters("zhang", "2026-12-01")[f"c#{ch.channel_id}"] == 1
    _, second = _open(env, ch)
    assert env.store.get_customer("unit", second.customer_id).owner_userid == "li"  # WeCom spreads the range
    assert env.calls("externalcontact/update_contact_way") == 0  # no rotation: the link has no contact way


def test_editing_staff_and_name_updates_the_link_and_deleting_removes_it(env: Env) -> None:
    ch = _link_channel(env)
    edited = env.svc.channels.update(env.tenant, ch.channel_id, {"staff": {"mode": "single", "userids": ["wang"]}})
    [link] = env.world.links(CORP)
    assert link["users"] == ["wang"] and edited.link_id == ch.link_id
    env.svc.channels.update(env.tenant, ch.channel_id, {"name": "抖音信息流·1月"})
    assert env.world.links(CORP)[0]["link_name"] == link_name("抖音信息流·1月", ch.channel_id)
    before = env.calls("externalcontact/customer_acquisition/update_link")
    env.svc.channels.update(env.tenant, ch.channel_id, {"spend": 100.0})
    assert env.calls("externalcontact/customer_acquisition/update_link") == before  # nothing WeCom keeps changed
    env.svc.channels.delete(env.tenant, ch.channel_id)
    assert env.world.links(CORP) == [] and env.store.get_channel("unit", ch.channel_id) is None


def test_a_link_refuses_caps_and_backup_and_stores_nothing(env: Env) -> None:
    for staff in (
        {"mode": "round_robin", "userids": ["zhang", "li"], "daily_caps": {"zhang": 5}},
        {"mode": "single", "userids": ["zhang"], "backup_userid": "li"},
        {"mode": "single", "userids": ["nobody"]},
    ):
        with pytest.raises(errors.InvalidError):
            _link_channel(env, staff=staff)
    assert env.calls(CREATE) == 0 and env.store.channels == {}


def test_wecom_refusing_the_link_stores_nothing(env: Env) -> None:
    env.world.inject(CREATE, 48002)
    with pytest.raises(errors.WeComAuthError):
        _link_channel(env)
    assert env.store.channels == {} and env.world.links(CORP) == []


def test_a_failed_save_removes_the_link_again(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise errors.UpstreamError("DynamoDB is unavailable")

    monkeypatch.setattr(env.store, "put_channel", refuse)
    with pytest.raises(errors.UpstreamError):
        _link_channel(env)
    assert env.store.channels == {} and env.world.links(CORP) == []


def test_a_crash_between_wecom_and_the_save_adopts_the_link_on_retry(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after create_link (nothing of ours runs after it): the retry with the same Idempotency-Key
    finds the pending channel and adopts the link by its name: one link, not two."""
    put = env.store.put_channel

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("the Lambda was killed")

    monkeypatch.setattr(env.store, "put_channel", die)
    with pytest.raises(SystemExit):
        _link_channel(env, key="req-1")
    pending = env.store.get_channel("unit", channel_id_for(env.tenant, "req-1"))
    assert pending is not None and pending.link_id == "" and len(env.world.links(CORP)) == 1
    monkeypatch.setattr(env.store, "put_channel", put)
    done = _link_channel(env, key="req-1")
    [link] = env.world.links(CORP)
    assert done.channel_id == pending.channel_id and done.link_id == link["link_id"]
    assert env.calls(CREATE) == 1
    again = _link_channel(env, key="req-1")  # a third attempt (its answer lost too) changes nothing
    assert again == done and env.calls(CREATE) == 1 and len(env.store.channels) == 1


def test_a_crash_before_create_link_creates_it_on_retry(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    create = env.svc.channels.links.wecom.create_link

    def die(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("killed before WeCom answered")

    monkeypatch.setattr(env.svc.channels.links.wecom, "create_link", die)
    with pytest.raises(SystemExit):
        _link_channel(env, key="req-2")
    monkeypatch.setattr(env.svc.channels.links.wecom, "create_link", create)
    done = _link_channel(env, key="req-2")
    assert done.link_id and [link["link_id"] for link in env.world.links(CORP)] == [done.link_id]


def test_a_pending_channel_without_a_key_is_finished_by_its_next_edit(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = env.store.put_channel
    monkeypatch.setattr(env.store, "put_channel", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        _link_channel(env)
    monkeypatch.setattr(env.store, "put_channel", put)
    [pending] = env.store.channels.values()
    done = env.svc.channels.update(env.tenant, pending.channel_id, {"campaign": "12月"})
    [link] = env.world.links(CORP)
    assert done.link_id == link["link_id"] and done.campaign == "12月" and env.calls(CREATE) == 1


def test_two_keys_are_two_channels_and_tenants_never_share_an_id(env: Env) -> None:
    a, b = _link_channel(env, key="k1"), _link_channel(env, key="k2")
    assert a.channel_id != b.channel_id and len(env.world.links(CORP)) == 2
    other = make_env(FakeStore())
    other_tenant = replace(other.tenant, salt="another-salt")
    assert channel_id_for(other_tenant, "k1") != a.channel_id


def test_list_of_kind_link_holds_only_link_channels(env: Env) -> None:
    from tests.unit.conftest import make_channel

    qr = make_channel(env)
    link = _link_channel(env)
    listed = env.svc.channels.list("unit", kind="link", cursor=None, limit=10).items
    assert [c.channel_id for c in listed] == [link.channel_id]
    every = env.svc.channels.list("unit", kind="standard", cursor=None, limit=10).items
    assert {c.channel_id for c in every} == {qr.channel_id, link.channel_id}  # the board shows both


def test_quota_is_shown_and_unknown_when_wecom_refuses(env: Env) -> None:
    env.world.set_link_quota(CORP, balance=40, total=1000)
    q = env.svc.channels.quota(env.tenant)
    assert q is not None and (q.balance, q.low) == (40, True)
    env.world.inject("externalcontact/customer_acquisition_quota", 48002)
    assert env.svc.channels.quota(env.tenant) is None


def test_link_channels_have_no_poster(env: Env) -> None:
    ch = _link_channel(env)
    with pytest.raises(errors.InvalidError):
        env.svc.channels.poster("unit", ch.channel_id)


def test_erasing_a_customer_who_came_through_a_link_leaves_no_trace_on_the_channel(env: Env) -> None:
    """A link channel stores no customer data (only staff ids and its own texts): erasure has nothing to add there,
    and the channel keeps working for the next parent."""
    ch = _link_channel(env)
    fields, result = _open(env, ch, name="小明妈妈")
    env.svc.customers.erase(env.tenant, result.customer_id)
    assert env.store.get_customer("unit", result.customer_id) is None
    after = env.store.get_channel("unit", ch.channel_id)
    text = repr(after)
    assert after == ch and result.customer_id not in text and fields["ExternalUserID"] not in text
    _, again = _open(env, ch)
    assert again.outcome == "created"
