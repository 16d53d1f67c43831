"""Rotation under concurrent joins on both stores (DynamoDB Local and the fake): joins that all read the code before
any writes (a barrier holds them there) make one conditional write, hence one update_join_way."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.groups import GroupState
from chalicelib.domain.tenants import Tenant
from chalicelib.services.group_codes import GroupCodeService
from tests.fakes import FixedClock, SeqIds
from tests.fakes.wecom_groups_g5 import FakeJoinWays

TENANT = Tenant("acme", "群运营", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
JOINS = 4


def test_concurrent_joins_that_all_see_the_threshold_rotate_once(store: Any) -> None:
    wecom = FakeJoinWays()
    svc = GroupCodeService(store, wecom, FixedClock(), SeqIds())
    store.put_group_naming("acme", NamingTemplate(institution="XX教育"))
    for n in (1, 2, 3):
        assert store.save_group_state("acme", f"wr{n}", GroupState(name=f"g{n}", member_count=300), expected_rev=0)
    body = {"name": "海报", "positioning": "考研", "cohort": "3", "chat_ids": ["wr1", "wr2"], "queue": ["wr3"]}
    code = svc.create(TENANT, {**body, "rotate_at": 300})
    barrier = threading.Barrier(JOINS, timeout=10)
    save = store.save_group_code
    first: set[int] = set()

    def racing_save(tenant_id: str, changed: GroupCode, *, expected_rev: int) -> bool:
        if threading.get_ident() not in first:
            first.add(threading.get_ident())
            barrier.wait()
        return bool(save(tenant_id, changed, expected_rev=expected_rev))

    store.save_group_code = racing_save
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(svc.rotate_if_full(TENANT, code.code_id, "wr1", 300)))
        for _ in range(JOINS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * (JOINS - 1) + [True]
    assert [u["chat_ids"] for u in wecom.named("update_join_way")] == [["wr3", "wr2"]]
    after = store.get_group_code("acme", code.code_id, consistent=True)
    assert (after.rotations, after.retired, after.pending_since) == (1, ("wr1",), 0)
