"""The live console fixture itself: one private stack with the demo tenant, its JSON API and sandbox answering."""

from __future__ import annotations

import pytest

from tests.browser.console_live import LiveConsole

pytestmark = pytest.mark.xdist_group("live_console")


def test_the_stack_serves_the_demo_tenant_with_customers(live_console: LiveConsole) -> None:
    channels = live_console.api("GET", f"/t/{live_console.tenant_id}/channels")["items"]
    assert {c["channel_id"] for c in channels} >= {c.channel_id for c in live_console.demo.channels}
    assert len(live_console.customers) == 3 and all(c["customer_id"] for c in live_console.customers)
    clock = live_console.sandbox("GET", "/sandbox/clock")
    assert clock["now"]
    assert live_console.stack.ports  # four free ports of its own, never 8000-8003 of a running `make run`
    assert 8000 not in live_console.stack.ports.values()
