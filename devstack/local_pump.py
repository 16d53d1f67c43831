"""`make run`'s Scheduler pump, wired: the pump thread walks the stack's clock (devstack.timewarp.Walker), runs the
periodic jobs, and keeps devstack/.data/events_secret equal to the demo tenant's stored secret."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.adapters.clock import FileClock
from chalicelib.settings import Settings
from devstack.jobs import Handlers, PeriodicJobs, describe_jobs, fire_and_report
from devstack.pump import SchedulerPump
from devstack.seed import EVENTS_SECRET_FILE, _rel, refresh_events_secret
from devstack.timewarp import Walker

PUMP_INTERVAL = 5.0  # seconds between two reads of the moto schedule group


def start_pump(
    settings: Settings,
    scheduler_client: Any,
    stack: contextlib.ExitStack,
    handlers: Handlers,
    *,
    clock: FileClock,
    log: Callable[[str], None],
    interval: float = PUMP_INTERVAL,
    on_tick: Callable[[], Any] | None = None,
) -> Walker:
    """Start the Scheduler pump in a thread of this process; Ctrl-C (the ExitStack) stops it first.

    Each tick walks the stack's clock up to now: it fires the group's due schedules through app.fire
    (chalicelib.jobs.sop.fire), earliest first, and runs the app's periodic jobs at their rates (the backstop every 5
    minutes, ...): the deployed Lambda handlers, reading their settings from the environment (adopt_environment
    first). The periodic jobs also run once now, so touches left overdue while the stack was down fire at once (moto
    forgets schedules on exit); `make run` starts the pump after seeding, so a first start runs them for the demo
    tenant too. ``on_tick`` runs after each tick (the events-secret watch). Returns the Walker, which the sandbox's
    POST /sandbox/clock drives.
    """
    periodic = PeriodicJobs(handlers, log, clock.epoch)
    pump = SchedulerPump(
        scheduler_client,
        settings.schedule_group,
        fire=fire_and_report(handlers.fire, log),
        backstop=periodic,
        now=clock.now,
        interval=interval,
        log=log,
    )
    walker = Walker(pump, periodic, clock)

    said: dict[str, str | None] = {"error": None}

    def tick() -> None:
        """One walk up to now, then ``on_tick``; a failure (e.g. app.py does not import while you edit it) is said
        once, not every 5 seconds, until it changes or goes away."""
        try:
            walker.catch_up()
            if on_tick is not None:
                on_tick()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if error != said["error"]:
                log(f"pump: {error} (said once; the pump keeps trying)")
            said["error"] = error
        else:
            said["error"] = None

    pump.tick = tick
    try:
        ran = periodic.run_due(clock.epoch())
        log(f"pump: ran the periodic jobs at start: {', '.join(ran) or 'none'}")
    except Exception as exc:  # e.g. app.py does not import: the stack stays up, the pump retries
        log(f"pump: the periodic jobs did not run at start: {type(exc).__name__}: {exc}")
    pump.start()
    stack.callback(pump.stop)
    return walker


def pump_summary(settings: Settings, handlers: Handlers, interval: float = PUMP_INTERVAL) -> str:
    """The banner's Pump line: what it fires, and the periodic jobs it runs."""
    try:
        jobs = describe_jobs(handlers.periodic())
    except Exception as exc:  # app.py does not import right now; the pump line says so instead of failing
        jobs = f"unknown ({type(exc).__name__}: {exc})"
    return (
        f"fires due schedules of group {settings.schedule_group} every {interval:g} s through app.fire; "
        f"periodic jobs: {jobs}"
    )


class SecretWatch:
    """After ``PATCH /admin/tenants/<t> {"rotate_events_secret": true}`` the file devstack/.data/events_secret (and
    the banner's line) would keep the old secret: on each pump tick this reads the tenant's stored secret and, when
    it changed, rewrites the file and prints the new banner line once."""

    def __init__(
        self,
        handlers: Handlers,
        data_dir: Path,
        tenant_id: str,
        log: Callable[[str], None],
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.handlers = handlers
        self.data_dir = data_dir
        self.tenant_id = tenant_id
        self.log = log
        self.on_change = on_change

    def __call__(self) -> bool:
        secret = self.handlers.events_secret(self.tenant_id)
        if secret is None or not refresh_events_secret(self.data_dir, secret):
            return False
        where = _rel(self.data_dir / EVENTS_SECRET_FILE)
        self.log(f"events secret of {self.tenant_id} rotated; Events secret  {secret}   (kept in {where})")
        if self.on_change is not None:
            self.on_change(secret)
        return True
