"""The contact sync on DynamoDB Local and on the fake store alike (issue 14 §1): the job's conditional saves, the
running index and the job log as the real store keeps them; a first sync that dies in the middle of a page resumes
at its last saved page and ends with each contact once; a second run changes nothing; 撞单 by phone merges."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.ports import CustomerFilter
from chalicelib.services.contact_import import ContactImport
from chalicelib.services.contact_sync import FIRST_ID, contact_sync_of
from tests.unit.conftest import CORP, Env, make_env


class Dying(ContactImport):
    left = 0

    def apply(self, *args: Any, **kwargs: Any) -> str:
        if self.left == 0:
            raise RuntimeError("the worker died")
        self.left -= 1
        return super().apply(*args, **kwargs)


def _customers(env: Env) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        page = env.store.list_customers("unit", CustomerFilter(), cursor=cursor, limit=100)
        found += page.items
        cursor = page.next_cursor
        if not cursor:
            return found


def test_a_first_sync_dies_mid_page_resumes_and_a_second_run_changes_nothing(store: Any) -> None:
    env = make_env(store)
    for n, userid in enumerate(("zhang", "li", "wang")):
        env.world.seed_contacts(CORP, userid, 80, createtime=1_700_000_000 + n * 1_000, phones=True)
    sync = copy.copy(contact_sync_of(env.svc))  # the worker that dies (its own importer)
    sync.claim(env.tenant)
    dying = Dying(env.store, env.svc.wecom, env.clock, env.svc.intake.handle, env.svc.signals)
    dying.left = 150
    sync.importer = dying
    with pytest.raises(RuntimeError):
        sync.advance(env.tenant, FIRST_ID, budget_seconds=600)
    saved = sync.status("unit", FIRST_ID)
    assert (saved["status"], saved["pages"], saved["seen"]) == ("running", 1, 100)
    assert [j["job_id"] for j in env.store.running_jobs("unit") if j.get("kind") == "contact_sync"] == [FIRST_ID]

    resumed = contact_sync_of(env.svc)
    resumed.tick(env.tenant, budget_seconds=600)
    done = resumed.status("unit", FIRST_ID)
    assert done["status"] == "done" and done["seen"] == 240
    assert done["counts"]["created"] == 190 and done["counts"]["unchanged"] == 50
    customers = _customers(env)
    assert len(customers) == 240 and len({c.external_userid for c in customers}) == 240
    assert all(c.phone_masked for c in customers)
    assert not [j for j in env.store.running_jobs("unit") if j.get("kind") == "contact_sync"]

    # 撞单: the same phone under another staff member's new contact merges into the customer who has it.
    phone = env.world.corps[CORP].follows[customers[0].external_userid][customers[0].owner_userid].remark_mobiles
    env.world.register_contact(CORP, "wmSamePhone0001", remark_mobiles=list(phone), unionid="")
    env.world.event(CORP, "add_external_contact", userid="li", external_userid="wmSamePhone0001", now=1_700_009_000)
    again = resumed.start(env.tenant)
    again = resumed.advance(env.tenant, again["job_id"], budget_seconds=600)
    assert again["counts"]["merged"] == 1 and again["counts"]["unchanged"] == 240
    assert sum(again["counts"].values()) == 241 and len(_customers(env)) == 240
    third = resumed.start(env.tenant)
    third = resumed.advance(env.tenant, third["job_id"], budget_seconds=600)
    assert third["counts"]["unchanged"] == 241 and sum(third["counts"].values()) == 241
    assert sorted(j["job_id"] for j in resumed.recent("unit")) == sorted([FIRST_ID, again["job_id"], third["job_id"]])
