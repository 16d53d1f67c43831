"""Erasing a customer erases their outbound webhook deliveries (issue 14 §6; services/customers.py ``erase``), on the
fake store with the real outbox posting to the test receiver (tests/webhook_receiver.py): whatever state they were
in, none is sent afterwards, a sender mid-post never brings one back, and other customers keep their order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.webhook_http import Urllib3Poster
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain import webhooks as w
from chalicelib.domain.signals import ORDER, STAGE, Signal
from chalicelib.errors import NotFoundError
from chalicelib.ports.webhooks import PostResult
from chalicelib.services.customers import CustomerService
from chalicelib.services.webhook_outbox import WebhookOutbox
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.unit.test_webhooks_service import Env
from tests.webhook_receiver import running


class ErasureEnv(Env):
    @property
    def customers(self) -> CustomerService:
        world = WeComWorld(clock=self.clock.epoch)
        return CustomerService(self.store, WeComClient(WorldTransport(world), sleep=lambda s: None), self.clock)

    def subjects(self, webhook_id: str) -> list[str]:
        """Every subject the subscription's lists show: pending, delivered and dead."""
        shown = self.hooks.pending("acme", webhook_id)
        for status in (w.DELIVERED, w.DEAD):
            shown += self.hooks.deliveries("acme", webhook_id, status=status)
        return sorted(d.subject for d in shown)


@pytest.fixture
def env() -> Iterator[ErasureEnv]:
    with running() as receiver:
        yield ErasureEnv(receiver)


def test_an_erased_customers_deliveries_go_in_every_state_and_the_others_keep_their_order(env: ErasureEnv) -> None:
    env.customer("c1")
    env.customer("c2")
    sub = env.subscribe()
    env.added("c1", ref="a1")
    env.run()  # c1's add: delivered
    env.receiver.fail_subject = "c1"
    env.publish("c1", Signal(STAGE, env.clock.now(), stage="trial"))
    env.run()  # c1's stage change: failed, retrying
    env.advance(seconds=1)
    env.added("c2", ref="a2")
    env.publish("c1", Signal(ORDER, env.clock.now(), kind="trial", amount=990, ref="o1"))  # behind c1's retry
    env.advance(seconds=1)
    env.publish("c2", Signal(STAGE, env.clock.now(), stage="trial"))
    assert env.subjects(sub.webhook_id).count("customer:c1") == 3
    sent = len(env.receiver.got)

    result = env.customers.erase(env.tenant, "c1")

    assert result["erased"] and result["webhook_deliveries_deleted"] == 3
    assert env.subjects(sub.webhook_id) == ["customer:c2", "customer:c2"]
    env.receiver.fail_subject = None
    env.advance(hours=7)  # past every retry c1's stage change had left
    env.run()
    later = [(g.event, g.body["subject"]) for g in env.receiver.got[sent:]]
    assert later == [("customer.added", {"customer_id": "c2"}), ("customer.stage_changed", {"customer_id": "c2"})]
    assert env.store.erase_deliveries("acme", "customer:c1") == 0  # nothing left, nothing more to do
    with pytest.raises(NotFoundError):  # erasing again: the customer is gone, nothing changes
        env.customers.erase(env.tenant, "c1")


class ErasingPoster:
    """A receiver that answers 200, but the customer is erased while the sender waits for it."""

    def __init__(self, env: ErasureEnv) -> None:
        self.env = env
        self.posted = 0

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
        self.posted += 1
        self.env.customers.erase(self.env.tenant, "c1")
        return PostResult(200)


def test_a_sender_mid_post_when_the_customer_is_erased_never_brings_the_delivery_back(env: ErasureEnv) -> None:
    env.customer("c1")
    env.subscribe()
    env.added("c1", ref="a1")
    poster = ErasingPoster(env)
    env.outbox = WebhookOutbox(env.store, poster, env.clock, env.scheduler)
    report = env.run()
    assert poster.posted == 1 and report.delivered == 1  # it was on the wire before the erasure
    assert env.store.due_deliveries("acme", until_key="9999", limit=10) == []
    assert env.store.erase_deliveries("acme", "customer:c1") == 0  # its recorded outcome did not re-create it
    env.outbox = WebhookOutbox(env.store, Urllib3Poster(allow_private=True), env.clock, env.scheduler)
    env.advance(hours=1)
    assert env.run().delivered == 0 and env.receiver.got == []
