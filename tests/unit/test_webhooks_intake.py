"""The wired app's signals reach the webhooks' outbox (issue 14 §6): a merge publishes ``merged`` (the intake had no
signal for it), an add ``added``; each is queued once per subscription, and a redelivered callback adds nothing."""

from __future__ import annotations

from chalicelib.domain.signals import MERGED
from tests.unit.conftest import CORP, Env, make_channel


def queued(env: Env) -> list[tuple[str, str]]:
    return [(d.event, d.subject) for d in env.store.due_deliveries("unit", until_key="9999", limit=50)]


def test_a_merge_is_told_as_customer_merged_after_the_add_that_made_it(env: Env) -> None:
    assert env.svc.webhooks is not None
    assert "webhooks" in env.svc.signals.subscribers(MERGED)
    env.svc.webhooks.create("unit", {"url": "http://127.0.0.1:9/hook", "events": ["customer.added", "customer.merged"]})
    ch = make_channel(env)
    env.world.register_contact(CORP, "wmfirst00000000000000000000001", unionid="oUNION-parent-1")
    env.world.register_contact(CORP, "wmsecond0000000000000000000002", unionid="oUNION-parent-1")
    _, first = env.scan(ch.state, external_userid="wmfirst00000000000000000000001")
    fields, second = env.scan(ch.state, external_userid="wmsecond0000000000000000000002")
    assert second.outcome == "merged"
    subject = f"customer:{first.customer_id}"
    assert sorted(queued(env)) == sorted(
        [("customer.added", subject), ("customer.merged", subject), ("customer.added", subject)]
    )
    merged = [d for d in env.store.due_deliveries("unit", until_key="9999", limit=50) if d.event == "customer.merged"]
    assert merged[0].data == {"matched_by": "unionid", "staff_userid": "zhang"}
    env.deliver(fields)  # WeCom redelivers the merging add
    assert len(queued(env)) == 3
