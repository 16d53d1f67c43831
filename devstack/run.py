"""The local stack in the foreground (`make run` / `python -m devstack.run`).

DynamoDB Local (persisted under devstack/.data/dynamodb; moto in memory when Java is missing), a moto server for
EventBridge Scheduler, tables and schedule group provisioned from infra/, the WeCom sandbox, and the API under
`chalice local`; then a demo tenant seeded through the real admin HTTP API. moto stores schedules but never fires
them, so a Scheduler pump (devstack/pump.py) does: a thread of this process that invokes the app's real Lambda entry
points (app.fire, i.e. chalicelib.jobs.sop.fire, for each due schedule; the @app.schedule jobs such as the 5-minute
backstop at their rates) with the environment the API gets. Everything runs on one movable clock,
devstack/.data/clock.json (POST /sandbox/clock moves it; devstack.timewarp). Ctrl-C stops everything it started.

The parts: devstack.api_server (`chalice local`), devstack.seed (the demo tenant), devstack.local_pump and
devstack.timewarp (the pump and the clock), devstack.terminal (what is shown, what goes to devstack/.data/logs/),
devstack.banner.

Ports come from SIYU_API_PORT, SIYU_SANDBOX_PORT, SIYU_DYNAMODB_PORT and SIYU_MOTO_PORT (8000-8003), so two stacks
can run side by side; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from chalicelib.adapters.clock import FileClock
from chalicelib.settings import (
    Settings,
)
from devstack.api_server import (
    ApiServer,
    StackError,
    _code_snapshot,
    _no_proxy,
    adopt_environment,
    api_environment,
    chalice_environment,
    handler_environment,
)
from devstack.banner import StackState, banner
from devstack.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalError,
    ensure_installed,
    java_available,
    java_missing_reason,
)
from devstack.jobs import REGION, Handlers
from devstack.local_pump import SecretWatch, pump_summary, start_pump
from devstack.net import LOOPBACK, PortError, is_port_free, port_from_env
from devstack.preflight import sleep_problem
from devstack.provision import REPO_ROOT, local_client, provision
from devstack.seed import (
    DEMO_TENANT,
    DEMO_TENANT_ID,
    EVENTS_SECRET_FILE,
    SeedError,
    _rel,
    load_or_create_admin_token,
    seed,
)
from devstack.terminal import LOG_DIR, Router, Stamp, install
from devstack.timewarp import ClockControl

ENV_API_PORT = "SIYU_API_PORT"
ENV_SANDBOX_PORT = "SIYU_SANDBOX_PORT"
ENV_DYNAMODB_PORT = "SIYU_DYNAMODB_PORT"
ENV_MOTO_PORT = "SIYU_MOTO_PORT"
DEFAULT_PORTS = {ENV_API_PORT: 8000, ENV_SANDBOX_PORT: 8001, ENV_DYNAMODB_PORT: 8002, ENV_MOTO_PORT: 8003}

DATA_DIR = REPO_ROOT / "devstack" / ".data"
SANDBOX_STATE_FILE = "sandbox.json"  # the WeCom sandbox's state, so contact ways and tags outlive a restart
CLOCK_FILE = "clock.json"  # the stack's one movable clock (chalicelib.adapters.clock.FileClock)


class Shutdown(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP so every `finally` and ExitStack callback runs."""


# ------------------------------------------------------------------------------------------------------- the stack


@dataclass
class StackConfig:
    """Where the stack listens and keeps its data; from SIYU_*_PORT and the command line."""

    api_port: int = 8000
    sandbox_port: int = 8001
    dynamodb_port: int = 8002
    moto_port: int = 8003
    data_dir: Path = DATA_DIR
    reload: bool = True
    seed: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> StackConfig:
        ports = {name: port_from_env(name, default, env) for name, default in DEFAULT_PORTS.items()}
        return cls(
            api_port=ports[ENV_API_PORT],
            sandbox_port=ports[ENV_SANDBOX_PORT],
            dynamodb_port=ports[ENV_DYNAMODB_PORT],
            moto_port=ports[ENV_MOTO_PORT],
            **overrides,
        )

    def ports(self) -> dict[str, int]:
        return {
            ENV_API_PORT: self.api_port,
            ENV_SANDBOX_PORT: self.sandbox_port,
            ENV_DYNAMODB_PORT: self.dynamodb_port,
            ENV_MOTO_PORT: self.moto_port,
        }


def check_ports(config: StackConfig) -> None:
    """Fail before starting anything when a port is taken or used twice, naming the variable to change."""
    ports = config.ports()
    if len(set(ports.values())) != len(ports):
        raise StackError(f"the stack needs four different ports, got {ports}")
    busy = [f"{name}={port}" for name, port in ports.items() if not is_port_free(port)]
    if busy:
        raise StackError(
            f"port(s) already in use on {LOOPBACK}: {', '.join(busy)}. Stop the other stack, or choose free ports, "
            f"e.g. `{ENV_API_PORT}=8100 {ENV_SANDBOX_PORT}=8101 {ENV_DYNAMODB_PORT}=8102 {ENV_MOTO_PORT}=8103 make run`"
        )


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _while_stopping(signum: int, frame: FrameType | None) -> None:
    print(f"devstack: {signal.Signals(signum).name} ignored: still stopping, please wait", file=sys.stderr, flush=True)


def _install_signals(handler: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def _warn(message: str) -> None:
    print(f"\nWARNING: {message}\n", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _timed(state: StackState, name: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    state.timings[name] = time.monotonic() - began


def _start_dynamodb(config: StackConfig, stack: contextlib.ExitStack, state: StackState) -> str:
    """DynamoDB Local persisted under data_dir; the moto server (in memory, with a loud warning) when it cannot run."""
    reason: str | None = None
    if not java_available():
        reason = java_missing_reason()
    else:
        try:
            install_dir = ensure_installed()
            server = DynamoDBLocal(config.dynamodb_port, config.data_dir / "dynamodb", install_dir=install_dir)
            stack.callback(server.stop)
            with _timed(state, "DynamoDB Local"):
                server.start()
            bound = "127.0.0.1 only" if server.loopback_only else "ALL interfaces: install a JDK to bind 127.0.0.1"
            state.dynamodb_kind = f"DynamoDB Local, data in {_rel(config.data_dir / 'dynamodb')} ({bound})"
            return server.endpoint
        except DynamoDBLocalError as exc:
            reason = str(exc)
    _warn(
        "DynamoDB Local is not running, so DynamoDB is served by moto IN MEMORY: every table and item is lost when "
        f"the stack stops, and moto differs from DynamoDB (consumed capacity, validation).\n  Why: {reason}\n"
        "  Fix: install Java 17+ (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; macOS: "
        "`brew install openjdk@17`) and Node.js with npm, then `make run` again."
    )
    # A second moto listener on the DynamoDB port (same in-process backends), so the endpoint is the same either way.
    state.dynamodb_kind = "moto fallback (IN MEMORY, lost on exit)"
    return _start_moto(config.dynamodb_port, stack)


def _start_moto(port: int, stack: contextlib.ExitStack) -> str:
    """A moto server thread on 127.0.0.1:port (check_ports made sure it is free: moto hangs on a taken port)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per boto3 request
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    stack.callback(server.stop)
    return f"http://{LOOPBACK}:{port}"


def _start_sandbox(config: StackConfig, stack: contextlib.ExitStack, api_base: str, clock: FileClock) -> Any:
    """The WeCom sandbox in a thread, on the stack's clock; None when devstack/sandbox.py is missing."""
    try:
        from devstack.sandbox import SandboxServer  # type: ignore[import-not-found, unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "devstack.sandbox":
            raise
        _warn("devstack/sandbox.py is not there yet: running without the WeCom sandbox (no simulated scans).")
        return None
    from devstack.sandbox_events import EventsSecretFile  # the demo tenant's, for POST /sandbox/group-message

    events = EventsSecretFile(config.data_dir / EVENTS_SECRET_FILE, DEMO_TENANT_ID)
    state = config.data_dir / SANDBOX_STATE_FILE
    sandbox = SandboxServer(LOOPBACK, config.sandbox_port, api_base, state_path=state, events_secrets=events)
    sandbox.world.use_clock(clock.epoch)
    sandbox.start()
    stack.callback(sandbox.stop)
    return sandbox


def _watch_and_reload(api: ApiServer, config: StackConfig, handlers: Handlers | None = None) -> None:
    """Foreground loop until a signal: restart the API (and reload the pump's handlers) when the code changes,
    report when the API dies."""
    snapshot = _code_snapshot() if config.reload else {}
    reported_exit = False
    while True:
        time.sleep(1.0)
        if api.returncode is not None and not reported_exit:
            reported_exit = True
            _warn(
                f"the API (`chalice local`) exited with code {api.returncode}; "
                + ("it restarts when you change the code." if config.reload else "restart `make run`.")
            )
        if not config.reload:
            continue
        current = _code_snapshot()
        if current == snapshot:
            continue
        time.sleep(0.3)  # let an editor finish writing several files
        snapshot = _code_snapshot()
        _say("code changed: restarting the API ...")
        api.stop()
        try:
            seconds = api.start()
            reported_exit = False
            _say(f"API back on {api.base_url} ({seconds:.1f} s)")
        except StackError as exc:
            reported_exit = True
            _warn(f"the API did not come back: {exc}. Waiting for the next code change.")
        if handlers is not None:
            try:
                handlers.reload()
                _say("the pump's handlers reloaded")
            except Exception as exc:
                _warn(f"the pump cannot load the new code ({type(exc).__name__}: {exc}); it retries on every fire.")


def _secret_rotated(state: StackState) -> Callable[[str], None]:
    def remember(secret: str) -> None:
        if state.seeded is not None:
            state.seeded["events_secret"], state.seeded["events_secret_source"] = secret, "rotated since the start"

    return remember


def run(config: StackConfig, output: Router | None = None) -> int:
    """Start everything, print the banner, wait for Ctrl-C; stop in reverse order whatever happens. Exit status.
    With ``output``, the API's output and the pump's lines go through it (devstack.terminal)."""
    state = StackState()
    _install_signals(_on_signal)
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            try:
                check_ports(config)
                config.data_dir.mkdir(parents=True, exist_ok=True)
                os.environ["NO_PROXY"] = _no_proxy(os.environ.get("NO_PROXY", ""))  # boto3 to loopback, never proxied
                os.environ["no_proxy"] = _no_proxy(os.environ.get("no_proxy", ""))
                state.admin_token, state.admin_token_source = load_or_create_admin_token(config.data_dir)

                with _timed(state, "moto"):
                    state.scheduler_endpoint = _start_moto(config.moto_port, stack)
                state.dynamodb_endpoint = _start_dynamodb(config, stack, state)

                state.api_url = f"http://{LOOPBACK}:{config.api_port}"
                clock = FileClock((config.data_dir / CLOCK_FILE).resolve())  # the app, pump and sandbox read it
                stamp = Stamp(clock, str(DEMO_TENANT["timezone"]))
                if output is not None:
                    output.stamp = stamp
                with _timed(state, "sandbox"):
                    sandbox = _start_sandbox(config, stack, state.api_url, clock)
                state.sandbox_url = str(sandbox.base_url).rstrip("/") if sandbox is not None else None
                env = api_environment(
                    os.environ,
                    dynamodb_endpoint=state.dynamodb_endpoint,
                    scheduler_endpoint=state.scheduler_endpoint,
                    wecom_base_url=state.sandbox_url or f"http://{LOOPBACK}:{config.sandbox_port}",
                    admin_token=state.admin_token,
                    clock_file=clock.path,
                    console_url=state.api_url,  # the console is the API: sign-in redirects and alert links
                )
                # The pump runs the fire/backstop handlers in this process: same environment, same tables and group.
                handler_env = handler_environment(env, chalice_environment())
                adopt_environment(handler_env)
                state.settings = settings = Settings.from_env(handler_env)  # exactly what the API will read
                with _timed(state, "provision"):
                    provision(
                        settings,
                        dynamodb_client=local_client("dynamodb", state.dynamodb_endpoint, REGION),
                        scheduler_client=local_client("scheduler", state.scheduler_endpoint, REGION),
                        s3_client=local_client("s3", state.scheduler_endpoint, REGION),  # the same moto server
                    )
                _say(
                    f"provisioned {settings.table_name}, {settings.idempotency_table_name}, {settings.schedule_group}, "
                    f"{settings.blob_bucket}"
                )

                api = ApiServer(config.api_port, env, output=output)
                stack.callback(api.stop)
                _say(f"starting the API: {' '.join(api.command()[1:])}")
                state.timings["API"] = api.start()

                if config.seed:
                    try:
                        with _timed(state, "seed"):
                            state.seeded = seed(state.api_url, state.admin_token, state.sandbox_url, config.data_dir)
                    except SeedError as exc:
                        state.seed_error = str(exc)
                        _warn(f"seeding the demo tenant failed; the stack stays up without it.\n  {exc}")

                # After seeding: the periodic jobs' run at start then sees the demo tenant, on a first start too.
                handlers = Handlers()
                pump_log = output.say if output is not None else _say
                watch = SecretWatch(handlers, config.data_dir, DEMO_TENANT_ID, pump_log, _secret_rotated(state))
                with _timed(state, "pump"):
                    walker = start_pump(
                        settings,
                        local_client("scheduler", state.scheduler_endpoint, REGION),
                        stack,
                        handlers,
                        clock=clock,
                        log=pump_log,
                        on_tick=watch if state.seeded else None,
                    )
                state.pump = pump_summary(settings, handlers)
                if sandbox is not None:
                    sandbox.clock = ClockControl(walker, clock, stage=settings.stage, timezone=stamp.zone.key)
                state.clock = stamp.long()
                state.timings["total"] = time.monotonic() - began
                print(banner(state, reload=config.reload), flush=True)
                _watch_and_reload(api, config, handlers)
            except Shutdown as stop:
                _install_signals(_while_stopping)
                print(f"\ndevstack: {stop} received: stopping everything ...", flush=True)
            except (StackError, PortError) as exc:
                _install_signals(_while_stopping)
                print(f"\ndevstack: cannot start: {exc}\ndevstack: stopping what was started ...", file=sys.stderr)
                return 1
            except BaseException:
                _install_signals(_while_stopping)
                print("\ndevstack: unexpected error: stopping what was started ...", file=sys.stderr)
                raise
            finally:
                _install_signals(_while_stopping)
        _say("stopped.")
        return 0
    finally:
        _install_signals(signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.run", description=__doc__.split("\n")[0])
    parser.add_argument("--no-reload", action="store_true", help="do not restart the API when the code changes")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo tenant")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"state directory (default {_rel(DATA_DIR)})")
    parser.add_argument(
        "--verbose", action="store_true", help=f"also show the JSON logs and metric lines kept in <data-dir>/{LOG_DIR}"
    )
    args = parser.parse_args(argv)
    problem = sleep_problem()
    if problem is not None:
        print(f"devstack: {problem}", file=sys.stderr)
        return 2
    try:
        config = StackConfig.from_env(data_dir=args.data_dir, reload=not args.no_reload, seed=not args.no_seed)
    except PortError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    router = Router(config.data_dir / LOG_DIR, sys.stdout, lambda: "", verbose=args.verbose)
    undo = install(router)  # before the app is imported here: its logger keeps the stdout it finds
    try:
        print(f"devstack: JSON logs and metrics go to {_rel(router.log_dir)}/ (--verbose shows them here too)")
        return run(config, router)
    finally:
        undo()
        router.close()


if __name__ == "__main__":
    raise SystemExit(main())
