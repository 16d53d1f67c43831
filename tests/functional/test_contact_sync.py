"""The contact sync through the API, the backstop and the sandbox over HTTP, on moto's DynamoDB (issue 14 §1).

A first sync of 360 contacts (120 staff: two userid batches, four cursor pages) dies halfway through a page and
resumes; it ends with exactly 360 customers, nothing doubled (customers, aliases, facts), and a second full run
changes nothing. (The Done-when run of 5,000 contacts is tests/unit/test_contact_sync_5000.py, on the fake store:
moto takes minutes for it.) Also: WeCom's rate limit mid-sync makes the job wait and resume; bad input is a 4xx
that stores nothing; tags the school made in WeCom before Siyu come onto the customers; two starts give one job."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.domain.customers import customer_id_for
from chalicelib.services import contact_sync as contact_sync_module
from chalicelib.services.contact_import import ContactImport
from chalicelib.services.contact_sync import FIRST_ID, contact_sync_of
from chalicelib.services.identities import credentials
from tests.functional.conftest import CORP, TENANT, Api

PATH = f"/t/{TENANT}/contact-syncs"
BATCH = "externalcontact/batch/get_by_user"
STAFF, CONTACTS = 120, 360
OLD = 1_700_000_000  # long before the tenant connected


def _items(prefix: str, sk: str | None = None) -> int:
    """Items of the functional table whose pk starts with ``prefix`` (and whose sk is ``sk``)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    n = 0
    for page in client.get_paginator("scan").paginate(TableName="siyu-functional", ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            if item["pk"]["S"].startswith(prefix) and (sk is None or item["sk"]["S"] == sk):
                n += 1
    return n


def _census() -> tuple[int, int, int]:
    """(customers, aliases, facts) of the tenant."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    customers = aliases = facts = 0
    for page in client.get_paginator("scan").paginate(TableName="siyu-functional", ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if pk.startswith(f"T#{TENANT}#C#"):
                customers += sk == "PROFILE"
                facts += sk.startswith("F#")
            elif pk.startswith(f"T#{TENANT}#ID#"):
                aliases += 1
    return customers, aliases, facts


def _backstop(api: Api) -> None:
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    api.client.lambda_.invoke("backstop", event)


def _backstop_until_done(api: Api, job_id: str, token: str, *, runs: int = 20) -> dict[str, Any]:
    for _ in range(runs):
        _backstop(api)
        job: dict[str, Any] = api.call("GET", f"{PATH}?job_id={job_id}", None, token).json
        if job["status"] == "done":
            return job
    raise AssertionError(f"the contact sync did not finish in {runs} backstop runs")


def _seed(api: Api) -> None:
    per, extra = divmod(CONTACTS, STAFF)
    for n in range(STAFF):
        api.sandbox.world.seed_contacts(CORP, f"teacher{n:03d}", per + (n < extra), createtime=OLD + n * 1_000)


def test_a_first_sync_dies_halfway_resumes_and_a_second_run_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api.create_tenant()
    _seed(api)
    monkeypatch.setattr(contact_sync_module, "SLICE_SECONDS", 0.0)  # the request only claims; the test drives it
    started = api.call("POST", PATH, None, token)
    assert started.status_code == 202, started.body
    assert started.json["job_id"] == FIRST_ID and started.json["status"] == "running"

    # A worker dies in the middle of page 2: 150 relations applied, the job saved after page 1.
    real_apply = ContactImport.apply
    applied = {"n": 0}

    def dying(self: ContactImport, *args: Any, **kwargs: Any) -> str:
        if applied["n"] == 150:
            raise RuntimeError("the worker died")
        applied["n"] += 1
        return real_apply(self, *args, **kwargs)

    monkeypatch.setattr(ContactImport, "apply", dying)
    sync = contact_sync_of(bootstrap.services())
    with pytest.raises(RuntimeError):
        sync.advance(bootstrap.services().tenants.get(TENANT), FIRST_ID, budget_seconds=600)
    saved = api.call("GET", f"{PATH}?job_id={FIRST_ID}", None, token).json
    assert saved["status"] == "running" and saved["pages"] == 1 and saved["seen"] == 100
    assert _census()[0] == 150
    monkeypatch.setattr(ContactImport, "apply", real_apply)

    done = _backstop_until_done(api, FIRST_ID, token)  # the backstop resumes it at page 2
    assert done["seen"] == CONTACTS and done["pages"] == 4
    assert done["counts"]["created"] == CONTACTS - 50 and done["counts"]["unchanged"] == 50  # page 2's first half
    assert _census() == (CONTACTS, CONTACTS, 0)  # one customer and one unionid alias each; imports add no fact

    monkeypatch.setattr(contact_sync_module, "SLICE_SECONDS", 5.0)
    api.clock.advance(seconds=1)  # the reconcile starts after the first sync (the runs list newest first)
    second = api.call("POST", PATH, None, token).json
    again = _backstop_until_done(api, second["job_id"], token)
    assert again["counts"]["unchanged"] == CONTACTS and again["counts"]["created"] == 0
    assert sum(again["counts"].values()) == CONTACTS
    assert _census() == (CONTACTS, CONTACTS, 0)
    runs = api.call("GET", PATH, None, token).json["items"]
    assert [r["job_id"] for r in runs] == [second["job_id"], FIRST_ID]


def test_a_rate_limit_mid_sync_waits_and_the_backstop_resumes(api: Api) -> None:
    token = api.create_tenant()
    api.sandbox.world.seed_contacts(CORP, "zhang", 250, createtime=OLD)
    api.sandbox.world.inject(BATCH, 45009)
    job = api.call("POST", PATH, None, token)
    assert job.status_code == 202 and job.json["waiting"] and job.json["retry_at"] == int(api.clock.epoch()) + 60
    _backstop(api)  # still blocked: nothing asked of WeCom
    assert len(api.sandbox.world.calls(BATCH)) == 1
    api.clock.advance(seconds=61)
    done = _backstop_until_done(api, job.json["job_id"], token)
    assert done["counts"]["created"] == 250 and not done["waiting"]


def test_two_starts_give_one_job_and_bad_input_is_refused(api: Api) -> None:
    token = api.create_tenant()
    api.sandbox.world.seed_contacts(CORP, "zhang", 3, createtime=OLD)
    api.sandbox.world.inject(BATCH, 45033)  # keeps the first job running
    first = api.call("POST", PATH, None, token).json
    second = api.call("POST", PATH, None, token).json
    assert first["job_id"] == second["job_id"] == FIRST_ID
    assert api.call("GET", f"{PATH}?job_id=nope", None, token).status_code == 400
    assert api.call("GET", f"{PATH}?job_id=cs_nope", None, token).json["error"]["code"] == "not_found"
    assert api.call("GET", f"{PATH}?what=1", None, token).status_code == 400
    viewer = api.token(TENANT, "viewer")
    assert api.call("POST", PATH, None, viewer).status_code == 403
    assert api.call("GET", f"{PATH}?job_id={FIRST_ID}", None, viewer).status_code == 200
    other = api.create_tenant("globex", "wwglobex00000001")
    mine = api.call("GET", f"{PATH}?job_id={FIRST_ID}", None, token).json
    theirs = api.call("GET", f"/t/globex/contact-syncs?job_id={FIRST_ID}", None, other).json
    assert (
        mine["waiting"] and not theirs["waiting"] and theirs["seq"] == 0
    )  # globex's own first sync, queued at connect
    assert api.call("GET", f"{PATH}?job_id={FIRST_ID}", None, other).status_code in (401, 403)
    assert _items(f"T#{TENANT}#C#") == 0


def test_tags_the_school_made_in_wecom_before_siyu_survive_the_first_sync(api: Api) -> None:
    token = api.create_tenant()
    tenant = bootstrap.services().tenants.get(TENANT)
    made = bootstrap.services().wecom.add_corp_tags(credentials(tenant), group_name="校区", tag_names=["海淀校区"])
    ids = api.sandbox.world.seed_contacts(CORP, "zhang", 3, tags=[made.tags["海淀校区"]], createtime=OLD)
    job = api.call("POST", PATH, None, token).json
    done = _backstop_until_done(api, job["job_id"], token)
    assert done["counts"]["tags_imported"] == 1 and done["counts"]["created"] == 3
    groups = api.call("GET", f"/t/{TENANT}/tag-groups", None, token).json["items"]
    campus = next(g for g in groups if g["name"] == "校区")
    assert not campus["exclusive"] and [(t["name"], t["mirrored"]) for t in campus["tags"]] == [("海淀校区", True)]
    tag_id = campus["tags"][0]["tag_id"]
    for ext in ids:
        customer_id = customer_id_for(tenant.hmac_hex("ext:" + ext))
        assert tag_id in api.call("GET", f"/t/{TENANT}/customers/{customer_id}", None, token).json["tags"]

    api.clock.advance(seconds=1)
    again = _backstop_until_done(api, api.call("POST", PATH, None, token).json["job_id"], token)
    assert again["counts"]["tags_imported"] == 0 and again["counts"]["unchanged"] == 3
    assert api.call("GET", f"/t/{TENANT}/tag-groups", None, token).json["items"] == groups  # nothing added twice
