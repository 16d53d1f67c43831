"""WeCom's statistics from the sandbox over real loopback HTTP, with the real client: a group message posted through
the sandbox's route reaches Siyu as a business event *and* WeCom's group statistics, so the two can be compared;
WeCom's errcode for too many userids comes back over HTTP as it would from WeCom."""

from __future__ import annotations

import pytest
import urllib3

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.statistics import beijing_day_start
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import WeComCredentials
from devstack.sandbox import SandboxServer
from tests.unit.test_sandbox_groups import (  # noqa: F401  (fixtures)
    CORP,
    T0,
    TENANT,
    Siyu,
    call,
    corp,
    http,
    ok,
    sandbox,
    seed,
    siyu,
)

CREDS = WeComCredentials(tenant_id=TENANT, corp_id=CORP, secret="s")
DAY = 86_400


def test_group_messages_and_joins_reach_the_group_statistics(
    http: urllib3.PoolManager,  # noqa: F811
    sandbox: SandboxServer,  # noqa: F811
    siyu: Siyu,  # noqa: F811
    corp: str,  # noqa: F811
) -> None:
    chat_id = seed(http, sandbox, members=["wmParent000001"])["chat_id"]
    ok(http, sandbox, "POST", "/sandbox/group-join", {"corp_id": CORP, "chat_id": chat_id, "external_userid": "wmP2"})
    body = {"tenant_id": TENANT, "chat_id": chat_id, "external_userid": "wmParent000001", "text": "打卡"}
    assert ok(http, sandbox, "POST", "/sandbox/group-message", body)["status"] == 200
    assert len(siyu.events) == 1
    day = beijing_day_start(int(T0))
    sandbox.world.use_clock(lambda: T0 + DAY)  # the statistics of a day are read from the next day on
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)
    (stats,) = client.group_statistic_by_day(CREDS, owners=["zhang"], day_begin_time=day, day_end_time=day)
    assert (stats.stat_time, stats.new_chat_cnt, stats.chat_total) == (day, 1, 1)
    assert (stats.new_member_cnt, stats.member_total) == (3, 3)
    assert (stats.msg_total, stats.chat_has_msg, stats.member_has_msg) == (1, 1, 1)


def test_world_errcodes_come_back_over_http(
    http: urllib3.PoolManager,  # noqa: F811
    sandbox: SandboxServer,  # noqa: F811
    corp: str,  # noqa: F811
) -> None:
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)
    today = beijing_day_start(int(T0))
    with pytest.raises(errors.WeComInvalidArgumentError) as raised:  # today is not counted yet
        client.group_statistic_by_day(CREDS, owners=["zhang"], day_begin_time=today, day_end_time=today)
    assert raised.value.errcode == 40058
    token = client._token(CREDS)
    body = {"userid": [f"u{i}" for i in range(101)], "start_time": today, "end_time": today}
    status, answer = call(
        http, sandbox, "POST", f"/cgi-bin/externalcontact/get_user_behavior_data?access_token={token}", body
    )
    assert (status, answer["errcode"]) == (200, 40058)
