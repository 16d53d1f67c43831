"""The WeCom world's API registry: each API module's ApiSet, their union, and a new family plugged in alone."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.wecom_world import WeComWorld
from devstack.wecom_world.api import ApiError, ApiSet, ApiTable
from devstack.wecom_world.state import Corp, WorldState
from devstack.wecom_world.world import API_SETS

CORP = "wwapisettest0001"

SERVED = {
    "externalcontact/add_contact_way",
    "externalcontact/update_contact_way",
    "externalcontact/get_contact_way",
    "externalcontact/del_contact_way",
    "externalcontact/get",
    "externalcontact/mark_tag",
    "externalcontact/send_welcome_msg",
    "externalcontact/get_corp_tag_list",
    "externalcontact/add_corp_tag",
    "externalcontact/edit_corp_tag",
    "externalcontact/del_corp_tag",
    "externalcontact/add_msg_template",
    "message/send",
    "externalcontact/get_groupmsg_task",
    "externalcontact/get_groupmsg_send_result",
    "externalcontact/get_groupmsg_list_v2",
    "externalcontact/groupchat/list",
    "externalcontact/groupchat/get",
    "externalcontact/groupchat/add_join_way",
    "externalcontact/groupchat/get_join_way",
    "externalcontact/groupchat/update_join_way",
    "externalcontact/groupchat/del_join_way",
    "externalcontact/get_user_behavior_data",
    "externalcontact/groupchat/statistic",
    "externalcontact/groupchat/statistic_group_by_day",
    "auth/getuserinfo",  # staff web sign-in (oauth.py): redeeming a code uses it up
    "get_jsapi_ticket",  # the JS-SDK tickets (tickets.py): they change state (issued tickets, counted fetches)
    "ticket/get",
    "media/upload",
    "externalcontact/customer_acquisition/create_link",  # 获客链接 (acquisition.py)
    "externalcontact/customer_acquisition/update_link",
    "externalcontact/customer_acquisition/delete_link",
    "externalcontact/customer_acquisition/get",
    "externalcontact/customer_acquisition/list_link",
    "externalcontact/customer_acquisition/customer",
    "externalcontact/customer_acquisition_quota",
    "externalcontact/add_moment_task",  # 客户朋友圈 (moments.py)
    "externalcontact/get_moment_task_result",  # counts its polls: the job completes at the third
    "externalcontact/get_moment_task",
    "externalcontact/get_moment_customer_list",
    "externalcontact/get_moment_send_result",
    # 客户继承 (handover.py): none read-only, as each settles the transfers whose 24 h passed
    "externalcontact/transfer_customer",
    "externalcontact/transfer_result",
    "externalcontact/get_unassigned_list",
    "externalcontact/resigned/transfer_customer",
    "externalcontact/resigned/transfer_result",
    "externalcontact/get_follow_user_list",  # the first contact sync (contact_list.py)
    "externalcontact/batch/get_by_user",
}
READS = {
    "gettoken",
    "externalcontact/get_contact_way",
    "externalcontact/get",
    "externalcontact/get_corp_tag_list",
    "externalcontact/get_groupmsg_task",
    "externalcontact/get_groupmsg_send_result",
    "externalcontact/get_groupmsg_list_v2",
    "externalcontact/groupchat/list",
    "externalcontact/groupchat/get",
    "externalcontact/groupchat/get_join_way",
    "externalcontact/get_user_behavior_data",
    "externalcontact/groupchat/statistic",
    "externalcontact/groupchat/statistic_group_by_day",
    "externalcontact/customer_acquisition/get",
    "externalcontact/customer_acquisition/list_link",
    "externalcontact/customer_acquisition/customer",
    "externalcontact/customer_acquisition_quota",
    "externalcontact/get_moment_task",
    "externalcontact/get_moment_customer_list",
    "externalcontact/get_moment_send_result",
    "externalcontact/get_follow_user_list",
    "externalcontact/batch/get_by_user",
}


def _token(world: WeComWorld) -> str:
    token: str = world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    return token


def test_the_modules_together_serve_every_api_once() -> None:
    table = ApiTable.of(*API_SETS)
    assert set(table.handlers) == SERVED
    assert table.from_query == {
        "externalcontact/get",
        "auth/getuserinfo",
        "get_jsapi_ticket",
        "ticket/get",
        "externalcontact/customer_acquisition_quota",
        "externalcontact/get_moment_task_result",
        "externalcontact/get_follow_user_list",
    }


@pytest.mark.parametrize("api", sorted(SERVED | {"gettoken"}))
def test_only_gettoken_and_the_reads_leave_the_state_unchanged(api: str) -> None:
    assert WeComWorld().changes_state(f"/cgi-bin/{api}?access_token=x") is (api not in READS)


def test_an_api_served_by_two_modules_is_refused() -> None:
    twice = ApiSet({"externalcontact/get": lambda world, corp, p: {}})
    with pytest.raises(ValueError, match="served by two modules"):
        ApiTable.of(*API_SETS, twice)


def test_an_api_set_cannot_mark_an_api_it_does_not_serve() -> None:
    with pytest.raises(ValueError, match="does not serve"):
        ApiSet({"externalcontact/groupchat/list": lambda world, corp, p: {}}, read_only=frozenset({"nope"}))


def test_a_new_api_family_plugs_in_without_the_others() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def get_moment_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("owner"):
            raise ApiError(40058)
        seen.append((corp.corp_id, p))
        return {"moment_list": [], "next_cursor": ""}

    moments = ApiSet(
        {"externalcontact/get_moment_list": get_moment_list}, read_only=frozenset({"externalcontact/get_moment_list"})
    )
    world = WeComWorld(api_sets=(*API_SETS, moments))
    token = _token(world)

    ok = world.handle("/cgi-bin/externalcontact/get_moment_list", {"access_token": token}, {"owner": "zhang"})
    bad = world.handle("/cgi-bin/externalcontact/get_moment_list", {"access_token": token}, {})

    assert ok == {"errcode": 0, "errmsg": "ok", "moment_list": [], "next_cursor": ""}
    assert bad["errcode"] == 40058
    assert seen == [(CORP, {"owner": "zhang"})]
    assert [c.errcode for c in world.calls("externalcontact/get_moment_list")] == [0, 40058]
    assert not world.changes_state("/cgi-bin/externalcontact/get_moment_list")
    assert world.changes_state("/cgi-bin/externalcontact/add_contact_way")  # the others still served as before
