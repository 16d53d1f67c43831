"""The console's Webhook page (issue 14 §6): an admin creates a subscription and sees its secret once, pauses and
deletes it; ops see the dead letters and replay one; a bad form stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs import sop as sop_jobs
from tests.functional.conftest import TENANT, Api
from tests.functional.console_client import signed_in
from tests.webhook_receiver import Receiver, running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running() as rec:
        yield rec


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(api: Api, receiver: Receiver) -> None:
    api.create_tenant()
    admin = signed_in(api, role="admin")
    page = admin.get(f"/console/{TENANT}/webhooks")
    assert page.status_code == 200 and "新建 Webhook" in page.body.decode()
    form = [("url", receiver.url), ("events", "customer.added"), ("events", "order.recorded"), ("pii", "name")]
    made = admin.post(f"/console/{TENANT}/webhooks", form)
    assert made.status_code == 201, made.body[:500]
    [sub] = services().store.list_webhooks(TENANT)
    secret = services().store.webhook_secret(TENANT, sub)
    assert sub.secret == "" and secret.startswith("whsec_")  # in (moto's) SSM, as deployed; not in the item
    assert secret in made.body.decode()  # shown this once
    assert sub.events == ("customer.added", "order.recorded") and sub.pii == ("name",)
    again = admin.get(f"/console/{TENANT}/webhooks")
    assert secret not in again.body.decode() and receiver.url in again.body.decode()
    paused = admin.post(f"/console/{TENANT}/webhooks/{sub.webhook_id}", {"action": "pause"})
    assert paused.status_code == 303
    assert services().store.get_webhook(TENANT, sub.webhook_id).status == "paused"
    deleted = admin.post(f"/console/{TENANT}/webhooks/{sub.webhook_id}", {"action": "delete"})
    assert deleted.status_code == 303 and services().store.list_webhooks(TENANT) == []


def test_a_bad_form_is_shown_again_and_stores_nothing(api: Api) -> None:
    api.create_tenant()
    admin = signed_in(api, role="admin")
    bad = admin.post(f"/console/{TENANT}/webhooks", [("url", "http://crm.example.com/x"), ("events", "customer.added")])
    assert bad.status_code == 400 and "crm.example.com" in bad.body.decode()
    assert services().store.list_webhooks(TENANT) == []
    ops = signed_in(api, role="ops")
    denied = ops.post(
        f"/console/{TENANT}/webhooks", [("url", "https://crm.example.com/x"), ("events", "customer.added")]
    )
    assert denied.status_code == 403 and services().store.list_webhooks(TENANT) == []


def test_ops_replay_a_dead_letter_from_the_page(api: Api, receiver: Receiver) -> None:
    token = api.create_tenant()
    made = api.call("POST", f"/t/{TENANT}/webhooks", {"url": receiver.url, "events": ["customer.added"]}, token)
    receiver.secret, hook_id = made.json["secret"], made.json["webhook_id"]
    receiver.fail_first = 6
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    channel = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}}
    api.scan(api.call("POST", f"/t/{TENANT}/channels", channel, token).json["state"])
    sop_jobs.fire({"tenant_id": TENANT, "webhooks": 1})
    retrying = signed_in(api, role="ops").get(f"/console/{TENANT}/webhooks").body.decode()
    assert "重试中" in retrying and "http_500" in retrying
    for minutes in (1, 5, 30, 120, 360):
        api.clock.advance(minutes=minutes)
        sop_jobs.fire({"tenant_id": TENANT, "webhooks": 1})
    ops = signed_in(api, role="ops")
    page = ops.get(f"/console/{TENANT}/webhooks")
    [dead] = services().store.deliveries(TENANT, hook_id, status="dead", limit=5)
    assert dead.delivery_id in page.body.decode() and "新建 Webhook" not in page.body.decode()
    replayed = ops.post(f"/console/{TENANT}/webhooks/{hook_id}/replay", {"delivery_id": dead.delivery_id})
    assert replayed.status_code == 303
    sop_jobs.fire({"tenant_id": TENANT, "webhooks": 1})
    assert receiver.got[-1].status == 200 and receiver.got[-1].delivery_id == dead.delivery_id
