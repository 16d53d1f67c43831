"""The console's customer reads: the list with its filter choices under the API's staff scoping, and one customer's
page, which a staff member may open for their own customers only (403 for another's, and for an id of no one)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.errors import ForbiddenError, NotFoundError
from chalicelib.ports import CustomerFilter
from chalicelib.services import customer_views, customers
from chalicelib.services.customer_views import views_of
from tests.unit.conftest import Env, make_channel

ZONE = ZoneInfo("Asia/Shanghai")


def _two_owners(env: Env) -> tuple[str, str]:
    """A customer of zhang's (through a channel that tags 抖音) and one of li's."""
    zhang = make_channel(env)
    li = make_channel(env, name="B站", source="bilibili", staff={"mode": "single", "userids": ["li"]}, tags=[])
    return env.scan(zhang.state)[1].customer_id, env.scan(li.state)[1].customer_id


def test_the_list_offers_the_tags_and_channels_and_scopes_staff_to_their_own(env: Env) -> None:
    mine, theirs = _two_owners(env)
    views = views_of(env.svc)
    everyone = views.browse("unit", CustomerFilter(), cursor=None, limit=20, only_owner=None)
    assert {c.customer_id for c in everyone.items} == {mine, theirs}
    assert {name for _, name in everyone.channels} == {"抖音直播间", "B站"}
    assert any(t.label == "流量平台来源 / 抖音" for t in everyone.tags)
    assert ("zhang", "张老师") in everyone.staff and ("li", "李老师") in everyone.staff
    staff = views.browse("unit", CustomerFilter(), cursor=None, limit=20, only_owner="zhang")
    assert [c.customer_id for c in staff.items] == [mine]
    with pytest.raises(ForbiddenError):  # a staff session cannot ask for another's customers
        views.browse("unit", CustomerFilter(owner_userid="li"), cursor=None, limit=20, only_owner="zhang")


def test_a_staff_member_opens_their_own_customer_and_is_refused_anothers(env: Env) -> None:
    mine, theirs = _two_owners(env)
    views = views_of(env.svc)
    card = views.card("unit", mine, staff_scope="zhang", zone=ZONE)
    assert card["customer_id"] == mine and card["owner_userid"] == "zhang" and card["timeline"]
    assert card["channel_name"] == "抖音直播间"
    douyin = next(t["tag_id"] for t in card["tag_details"] if t["name"] == "抖音")
    assert all(c.tag_id != douyin for c in card["tag_choices"])  # a tag the customer has is not offered again
    with pytest.raises(ForbiddenError) as refused:
        views.card("unit", theirs, staff_scope="zhang", zone=ZONE)
    assert refused.value.code == "not_your_customer"
    with pytest.raises(ForbiddenError):  # an id of no one: the same refusal, so it tells nothing
        views.card("unit", "cu_nobody", staff_scope="zhang", zone=ZONE)
    assert views.card("unit", theirs, staff_scope=None, zone=ZONE)["owner_userid"] == "li"  # ops see everyone
    with pytest.raises(NotFoundError):
        views.card("unit", "cu_nobody", staff_scope=None, zone=ZONE)


def test_the_timeline_reads_on_from_the_details_cursor(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customers, "TIMELINE_LIMIT", 2)
    monkeypatch.setattr(customer_views, "TIMELINE_PAGE", 2)
    mine, _ = _two_owners(env)
    group = env.svc.tags.create_group(env.tenant, name="意向", exclusive=False, tags=["高意向", "观望", "复购"])
    for tag in group.tags:
        env.clock.current = env.clock.now() + timedelta(minutes=5)
        env.svc.customers.change_tags(env.tenant, mine, add=[tag.tag_id], remove=[], actor="ops")
    views = views_of(env.svc)
    first = views.card("unit", mine, staff_scope=None, zone=ZONE)
    assert [e["type"] for e in first["timeline"]] == ["tags_changed", "tags_changed"]
    assert first["timeline_next_cursor"]
    later = views.card("unit", mine, staff_scope="zhang", zone=ZONE, cursor=first["timeline_next_cursor"])
    newest = first["timeline"][0]["detail"]["added"]
    assert later["timeline"] and all(e["detail"].get("added") != newest for e in later["timeline"])
    assert later["timeline"][-1]["type"] == "add_external_contact"  # read on down to the first add
    with pytest.raises(ForbiddenError):  # the cursor does not open another's customer
        views.card("unit", mine, staff_scope="li", zone=ZONE, cursor=first["timeline_next_cursor"])
