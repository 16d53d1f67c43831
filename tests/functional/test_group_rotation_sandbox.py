"""A group live code rotates on the very join that fills its group, through the real sandbox: the join's callback,
the member record, the group's count, then the signal the rotation hears. (The signal once came before the count was
saved, and a code rotated one join late: a poster kept sending people into a full group.)"""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import CORP, TENANT, Api

GROUPS = f"/t/{TENANT}/groups"
CODES = f"/t/{TENANT}/group-codes"


def _join(api: Api, config_id: str, external_userid: str) -> str:
    """A parent joins through the code in WeCom; each callback reaches Siyu as WeCom sends it. The chat joined."""
    callbacks = api.sandbox.world.group_join(CORP, config_id=config_id, external_userid=external_userid)
    for fields in callbacks:
        assert api.callback(TENANT, fields).status_code == 200
    return str(callbacks[-1]["ChatId"])


def _code(api: Api, token: str, code_id: str) -> dict[str, Any]:
    return dict(api.call("GET", f"{CODES}/{code_id}", None, token).json)


def test_the_join_that_fills_a_group_rotates_its_code_and_the_next_join_lands_in_the_next_group(api: Api) -> None:
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhanglaoshi", "name": "张老师"}, token).status_code == 201
    first = api.sandbox.world.seed_group(CORP, owner="zhanglaoshi", name="思语考研·数学冲刺·3期·01")["chat_id"]
    second = api.sandbox.world.seed_group(CORP, owner="zhanglaoshi", name="思语考研·数学冲刺·3期·02")["chat_id"]
    assert api.call("POST", f"{GROUPS}/sync", None, token).json["groups_seen"] == 2
    naming = {"institution": "思语考研", "separator": "·", "number_width": 2}
    assert api.call("PUT", f"/t/{TENANT}/settings/group-naming", naming, token).status_code == 200
    body = {"name": "数学3期海报", "positioning": "数学冲刺", "cohort": "3", "chat_ids": [first], "queue": [second],
            "rotate_at": 3}  # fmt: skip
    resp = api.call("POST", CODES, body, token)
    assert resp.status_code == 201, resp.body
    code = resp.json
    assert _join(api, code["config_id"], "wmParentA0000001") == first  # the owner and A: 2 members
    assert _code(api, token, code["code_id"])["rotations"] == 0
    assert _join(api, code["config_id"], "wmParentB0000001") == first  # 3 members: full, by this very join
    after = _code(api, token, code["code_id"])
    assert (after["chat_ids"], after["retired"], after["rotations"]) == ([second], [first], 1)
    assert api.call("GET", f"{GROUPS}/{first}", None, token).json["member_count"] == 3
    assert _join(api, code["config_id"], "wmParentC0000001") == second  # the poster now leads to the next group
    assert _code(api, token, code["code_id"])["rotations"] == 1
