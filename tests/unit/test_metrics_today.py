"""The console overview's one read: today's view, today being the tenant's local day by the Clock port."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.conftest import Env, make_channel


def test_today_is_the_tenants_local_day_and_counts_only_it(env: Env) -> None:
    ch = make_channel(env)
    env.scan(ch.state)
    env.scan(ch.state)
    local = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    view = env.svc.metrics.today(env.tenant)
    assert (view.date_from, view.date_to) == (local, local)
    assert {s.key: s.value for s in view.funnel}["adds"] == 2
    env.clock.current = env.clock.now() + timedelta(days=1)
    tomorrow = env.svc.metrics.today(env.tenant)
    assert tomorrow.date_from > local and {s.key: s.value for s in tomorrow.funnel}["adds"] == 0
