"""The live console fixture itself: one private stack with the demo tenant, its JSON API and sandbox answering."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.metrics.holdout import in_holdout
from devstack.demo_setup import HOLDOUT_PERCENT
from tests.browser.console_live import LiveConsole

pytestmark = pytest.mark.xdist_group("live_console")


def test_the_stack_serves_the_demo_tenant_with_customers(live_console: LiveConsole) -> None:
    channels = live_console.api("GET", f"/t/{live_console.tenant_id}/channels")["items"]
    assert {c["channel_id"] for c in channels} >= {c.channel_id for c in live_console.demo.channels}
    assert len(live_console.customers) == 4 and all(c["customer_id"] for c in live_console.customers)
    clock = live_console.sandbox("GET", "/sandbox/clock")
    assert clock["now"]
    assert live_console.stack.ports  # four free ports of its own, never 8000-8003 of a running `make run`
    assert 8000 not in live_console.stack.ports.values()


def test_the_customers_are_enrolled_and_a_clock_move_makes_their_first_touch_a_task(live_console: LiveConsole) -> None:
    base = f"/t/{live_console.tenant_id}"
    for customer in live_console.customers:
        enrolled = live_console.api("GET", f"{base}/customers/{customer['customer_id']}/enrollments")["items"]
        assert [e["plan_id"] for e in enrolled] == [live_console.demo.plan_id]
    plan = live_console.demo.plan_id
    reached = [
        c
        for c in live_console.customers
        if not in_holdout(live_console.tenant_id, plan, c["customer_id"], HOLDOUT_PERCENT)
    ]
    assert 9 <= datetime.fromisoformat(live_console.sandbox("GET", "/sandbox/clock")["now"]).hour < 18
    live_console.move_clock("PT61M")
    # Each reached customer's first touch is in a staff task by now: made by this move, or by an earlier one of
    # another test on the same stack (the story tests move its clock by a day).
    for customer in reached:  # (all four in the 20% holdout: about 1 run in 600)
        timeline = live_console.api("GET", f"{base}/customers/{customer['customer_id']}/timeline")["items"]
        assert any(entry["type"] == "touch" for entry in timeline), timeline
