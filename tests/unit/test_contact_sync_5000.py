"""Done when (issue 14 §1): a first sync of 5,000 contacts that dies halfway and resumes.

5,000 contacts across 120 staff members in the WeCom world, read by the real client: two userid batches of
batch/get_by_user, 4,180 relations in 42 cursor pages of 100, then 820 in 9. On the fake store (moto takes minutes
for this many; the same run over moto at 360 contacts is tests/functional/test_contact_sync.py). The worker dies in
the middle of page 26 with half of it applied; the resumed job ends with exactly 5,000 customers and nothing doubled
(customers, aliases, facts, counts), and a second full run changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.services.contact_import import ContactImport
from chalicelib.services.contact_sync import FIRST_ID, contact_sync_of
from tests.unit.conftest import CORP, Env

STAFF, CONTACTS = 120, 5_000


class Dying(ContactImport):
    """The importer of a worker that dies after ``left`` relations (in the middle of a page)."""

    left = 0

    def apply(self, *args: Any, **kwargs: Any) -> str:
        if self.left == 0:
            raise RuntimeError("the worker died")
        self.left -= 1
        return super().apply(*args, **kwargs)


def _census(env: Env) -> tuple[int, int, int]:
    facts = sum(len(v) for v in env.store.facts.values()) if isinstance(env.store.facts, dict) else 0
    return len(env.store.customers), len(env.store.aliases), facts


def test_a_first_sync_of_5000_contacts_dies_halfway_resumes_and_a_second_run_changes_nothing(env: Env) -> None:
    per, extra = divmod(CONTACTS, STAFF)
    for n in range(STAFF):
        env.world.seed_contacts(CORP, f"teacher{n:03d}", per + (n < extra), createtime=1_700_000_000 + n * 1_000)
    sync = copy.copy(contact_sync_of(env.svc))  # the worker that dies (its own importer)
    job = sync.claim(env.tenant)
    assert job["job_id"] == FIRST_ID
    dying = Dying(env.store, env.svc.wecom, env.clock, env.svc.intake.handle, env.svc.signals)
    dying.left = 2_549
    sync.importer = dying
    with pytest.raises(RuntimeError):
        sync.advance(env.tenant, FIRST_ID, budget_seconds=600)
    saved = sync.status("unit", FIRST_ID)
    assert saved["status"] == "running" and saved["pages"] == 25 and saved["seen"] == 2_500
    assert _census(env)[0] == 2_549  # page 26 half applied, not saved

    resumed = contact_sync_of(env.svc)  # another worker: the backstop's
    assert resumed.tick(env.tenant, budget_seconds=600)["contact_syncs"] == 1
    done = resumed.status("unit", FIRST_ID)
    assert done["status"] == "done" and done["pages"] == 42 + 9 and done["seen"] == CONTACTS
    assert done["counts"]["created"] == CONTACTS - 49 and done["counts"]["unchanged"] == 49
    customers, aliases, facts = _census(env)
    assert customers == CONTACTS and aliases == CONTACTS  # one unionid alias each
    owners = sorted(c.owner_userid for c in env.store.customers.values())
    assert len(set(owners)) == STAFF
    ids = [c.external_userid for c in env.store.customers.values()]
    assert len(set(ids)) == CONTACTS
    before = copy.deepcopy((env.store.customers, env.store.aliases, facts, env.store.counters))

    second = resumed.start(env.tenant)
    second = resumed.advance(env.tenant, second["job_id"], budget_seconds=600)
    assert second["status"] == "done" and second["counts"]["unchanged"] == CONTACTS
    assert sum(second["counts"].values()) == CONTACTS  # 0 created, 0 changed, nothing lost
    assert (env.store.customers, env.store.aliases, _census(env)[2], env.store.counters) == before
