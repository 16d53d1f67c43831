"""`make drill`: kill the local stack mid-fire, restart it, let it recover, and check that every touch is in exactly
one WeCom task or ``failed`` with a reason (devstack.drill_check), against the sandbox's stored WeCom tasks.

    python -m devstack.drill [--runs 5] [--customers 30] [--seed N] [--keep-data]

Each run starts its own stack exactly as `make run` does (``python -m devstack.run``, on four free ports and a
fresh data directory: never the stack you may be running), moves its clock to a daytime hour, seeds a manual plan on
the demo tenant (s1 inline, s2 ten minutes later) and customers who scanned a channel, and enrolls them. At a point
the seeded RNG picks it SIGKILLs the stack's process (its children die with it): while an enrollment fires the
inline step, or while the clock move fires the scheduled step. It may then leave the stack down for a few virtual
minutes (the stack's clock file moves on, as time would), restarts it on the same data, enrolls whoever was not
enrolled yet, and walks the clock a minute at a time (POST /sandbox/clock: the pump's fires and the 5-minute
backstop run on the way) until the invariant holds; "recovery" is that virtual time. Finally it walks past every
deadline and checks again. The seed is printed, so a run can be replayed. Exit status 1 on any lost, doubled or
misreported touch. docs/operations.md, "The drill".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.clock import FileClock
from devstack.drill_check import CheckResult, Planned, WeComTask, check, header, plan_touches
from devstack.net import LOOPBACK, free_port, is_port_free
from devstack.provision import REPO_ROOT
from devstack.run import CLOCK_FILE, ENV_API_PORT, ENV_DYNAMODB_PORT, ENV_MOTO_PORT, ENV_SANDBOX_PORT
from devstack.seed import DEMO_CORP_ID, DEMO_TENANT_ID
from devstack.wecom_world import WeComWorld

STEPS = {"s1": "同学你好，考研资料包已备好～", "s2": "本周六的试听课别忘了哦"}
SCHEDULED_AFTER = timedelta(minutes=10)
DEADLINE = timedelta(minutes=120)  # the steps' lateness.max_minutes
BACKSTOP_PERIOD = timedelta(minutes=5)
BACKOFF_BUDGET = timedelta(minutes=30)  # as in the fault matrix
RECOVERY_LIMIT = BACKSTOP_PERIOD + BACKOFF_BUDGET
SLOW_RESTART = timedelta(minutes=3)  # the issue's "restart after about 3 min"
ZONE = ZoneInfo("Asia/Shanghai")
UP_LINE = "Siyu local stack is up"
START_TIMEOUT = 180.0


class DrillError(RuntimeError):
    """The drill itself could not run (the stack did not start, the API refused the setup)."""


def _http(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 120) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Stack:
    """One `make run` stack (python -m devstack.run) on its own ports and data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in (ENV_API_PORT, ENV_SANDBOX_PORT, ENV_DYNAMODB_PORT, ENV_MOTO_PORT)}
        self.api = f"http://{LOOPBACK}:{self.ports[ENV_API_PORT]}"
        self.sandbox = f"http://{LOOPBACK}:{self.ports[ENV_SANDBOX_PORT]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.data_dir / f"stack-{self.starts}.log").open("wb")
        env = {**os.environ, **{name: str(port) for name, port in self.ports.items()}}
        command = [sys.executable, "-m", "devstack.run", "--no-reload", "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_up(self.data_dir / f"stack-{self.starts}.log")

    def _wait_up(self, log: Path) -> None:
        assert self.proc is not None
        began = time.monotonic()
        while time.monotonic() - began < START_TIMEOUT:
            if UP_LINE in log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        self.stop()
        raise DrillError(f"the stack did not come up (see {log}):\n{tail}")

    def kill(self) -> None:
        """SIGKILL the stack's process: no cleanup runs; its children (chalice local, DynamoDB Local) die with it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._wait_ports_free()

    def stop(self) -> None:
        """Ctrl-C, as a user stops `make run`; SIGKILL if it takes too long."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._wait_ports_free()

    def _wait_ports_free(self, timeout: float = 60.0) -> None:
        began = time.monotonic()
        while any(not is_port_free(p) for p in self.ports.values()):
            if time.monotonic() - began > timeout:
                raise DrillError(f"ports {self.ports} still taken {timeout:.0f} s after the stack stopped")
            time.sleep(0.2)

    def token(self) -> str:
        return (self.data_dir / "tenant_token").read_text().strip()

    def clock_now(self) -> datetime:
        return datetime.fromisoformat(self.call("GET", f"{self.sandbox}/sandbox/clock")["now"])

    def move(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"{self.sandbox}/sandbox/clock", body, timeout=600)

    def call(self, method: str, url: str, body: Any = None, *, token: str | None = None, timeout: float = 120) -> Any:
        status, answer = _http(method, url, body, token, timeout)
        if status >= 300:
            raise DrillError(f"{method} {url.split('?')[0]} answered {status}: {answer}")
        return answer

    def wecom_tasks(self) -> list[WeComTask]:
        """The sandbox's stored mass-message tasks of the demo corp (its state file, written after every change)."""
        from devstack.sandbox_io import parse_state

        world = WeComWorld()
        world.restore(parse_state((self.data_dir / "sandbox.json").read_bytes())[1])
        corp = world.corps.get(DEMO_CORP_ID)
        tasks = corp.tasks.values() if corp is not None else []
        return [WeComTask(t.msgid, t.sender, t.text, tuple(r.external_userid for r in t.recipients)) for t in tasks]

    def store(self) -> Any:
        """Siyu's store on this stack's DynamoDB Local, with the settings `make run` gives its handlers."""
        from chalicelib.adapters.dynamodb.models import configure
        from chalicelib.adapters.dynamodb.store import DynamoStore
        from chalicelib.settings import Settings
        from devstack.api_server import api_environment, chalice_environment, handler_environment

        env = api_environment(
            os.environ,
            dynamodb_endpoint=f"http://{LOOPBACK}:{self.ports[ENV_DYNAMODB_PORT]}",
            scheduler_endpoint=f"http://{LOOPBACK}:{self.ports[ENV_MOTO_PORT]}",
            wecom_base_url=self.sandbox,
            admin_token="unused",
        )
        settings = Settings.from_env(handler_environment(env, chalice_environment()))
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})  # the local stack's dummy keys
        return DynamoStore(configure(settings), settings.table_name)


@dataclass
class Setup:
    token: str
    plan_id: str
    planned: list[Planned]
    enrolled: set[str]
    refused: list[str]  # 409s on enrolment (after the kill: the enrolment was made before it), with their codes


def _setup(stack: Stack, customers: int) -> Setup:
    """Daytime on the stack's clock, a published manual plan (s1 inline, s2 scheduled), customers who scanned."""
    now = stack.clock_now().astimezone(ZONE)
    if not 9 <= now.hour < 18:
        day = now.date() + timedelta(days=1 if now.hour >= 18 else 0)
        stack.move({"to": datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZONE).isoformat()})
    token, base = stack.token(), f"{stack.api}/t/{DEMO_TENANT_ID}"
    body = {"name": "演练", "source": "other", "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"]}}
    channel = stack.call("POST", f"{base}/channels", body, token=token)
    lateness = {"max_minutes": int(DEADLINE.total_seconds() // 60), "then": "skip"}
    afters = (0, int(SCHEDULED_AFTER.total_seconds() // 60))
    steps = [
        {"id": sid, "after_minutes": after, "content_type": "service", "message": {"text": text}, "lateness": lateness}
        for (sid, text), after in zip(STEPS.items(), afters, strict=True)
    ]
    plan = stack.call(
        "POST", f"{base}/plans", {"name": "故障演练", "trigger": {"type": "manual"}, "steps": steps}, token=token
    )
    stack.call("POST", f"{base}/plans/{plan['plan_id']}/publish", {}, token=token)
    planned = []
    for _ in range(customers):
        scan = stack.call("POST", f"{stack.sandbox}/sandbox/scan", {"corp_id": DEMO_CORP_ID, "state": channel["state"]})
        answer = json.loads(scan["callback_body"])
        planned.append(Planned(str(answer["customer_id"]), str(scan["external_userid"])))
    return Setup(token, str(plan["plan_id"]), planned, set(), [])


def _enroll(stack: Stack, setup: Setup, customer: Planned) -> None:
    """Enroll one customer (its s1 fires inline in the request); 409 after a crash means it was enrolled already."""
    url = f"{stack.api}/t/{DEMO_TENANT_ID}/plans/{setup.plan_id}/enrollments"
    status, answer = _http("POST", url, {"customer_id": customer.customer_id}, setup.token)
    if status not in (201, 409):
        raise DrillError(f"enrolling {customer.customer_id} answered {status}: {answer}")
    if status == 409:
        setup.refused.append(f"{customer.customer_id}: {(answer.get('error') or {}).get('code')}")
    setup.enrolled.add(customer.customer_id)


def _in_background(work: Any) -> threading.Thread:
    """Run ``work`` in a thread that swallows the connection error the kill causes."""

    def run() -> None:
        try:
            work()
        except (OSError, DrillError):
            pass  # the stack was killed under the request

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _check(stack: Stack, setup: Setup) -> CheckResult:
    touches = plan_touches(stack.store(), DEMO_TENANT_ID, setup.plan_id)
    return check(setup.planned, STEPS, touches, stack.wecom_tasks())


def run_once(number: int, rng: random.Random, customers: int, keep: bool) -> tuple[str, CheckResult, str, list[str]]:
    """One drill run: (kill point, the final check, recovery, 409s on enrolment) — see the module docstring."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"siyu-drill-{number}-"))
    stack = Stack(data_dir)
    try:
        stack.start()
        setup = _setup(stack, customers)
        s2_due = stack.clock_now() + SCHEDULED_AFTER
        enroll_seconds, fire_seconds = 0.15, 0.3 + 0.02 * customers  # about how long one enrollment, one fire take
        if rng.random() < 0.5:  # while an enrollment fires the inline step
            k = rng.randrange(1, customers)
            for customer in setup.planned[:k]:
                _enroll(stack, setup, customer)
            began, delay = time.monotonic(), rng.uniform(0.0, enroll_seconds)
            _in_background(lambda: _enroll(stack, setup, setup.planned[k]))
            point = f"inline, enrolment {k + 1}/{customers} +{delay * 1000:.0f} ms"
        else:  # while the clock move fires the scheduled step
            for customer in setup.planned:
                _enroll(stack, setup, customer)
            stack.move({"to": (s2_due - timedelta(seconds=20)).isoformat()})  # the periodic jobs before it run now
            began = time.monotonic()
            _in_background(lambda: stack.move({"to": (s2_due + timedelta(seconds=1)).isoformat()}))
            delay = rng.uniform(0.0, fire_seconds)  # the move now does little but fire s2's bucket
            point = f"scheduled fire +{delay * 1000:.0f} ms"
        time.sleep(max(0.0, delay - (time.monotonic() - began)))
        stack.kill()
        if rng.random() < 0.5:  # down for a few minutes: the clock moves on while nothing runs
            clock = FileClock((data_dir / CLOCK_FILE).resolve())
            clock.set(clock.now() + SLOW_RESTART, running=True)
            point += f", down {SLOW_RESTART.seconds // 60} min"
        stack.start()
        restarted = stack.clock_now()
        for customer in setup.planned:
            if customer.customer_id not in setup.enrolled:
                _enroll(stack, setup, customer)
        recovered = None
        while stack.clock_now() < max(restarted, s2_due) + RECOVERY_LIMIT:
            stack.move({"advance": "PT1M"})
            result = _check(stack, setup)
            if result.ok and result.accounted:
                recovered = max(timedelta(0), stack.clock_now() - max(restarted, s2_due))
                break
        stack.move({"to": max(stack.clock_now(), s2_due + DEADLINE + 2 * BACKSTOP_PERIOD).isoformat()})
        final = _check(stack, setup)
        recovery = f"{recovered.total_seconds() / 60:.0f} min" if recovered is not None else "none"
        return point, final, recovery, setup.refused
    finally:
        stack.stop()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"drill: run {number} kept its data in {data_dir}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.drill", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="how many kill-and-restart runs (default 5)")
    parser.add_argument("--customers", type=int, default=30, help="customers enrolled per run (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="replay a drill: the seed it printed")
    parser.add_argument("--keep-data", action="store_true", help="keep each run's data directory and stack logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.customers < 2:
        parser.error("--runs must be at least 1 and --customers at least 2")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
    rng = random.Random(seed)
    print(
        f"drill: seed {seed} (replay: python -m devstack.drill --seed {seed} --runs {args.runs} "
        f"--customers {args.customers})",
        flush=True,
    )
    print(header(), flush=True)
    bad = 0
    for number in range(1, args.runs + 1):
        try:
            point, result, recovery, refused = run_once(number, rng, args.customers, args.keep_data)
        except DrillError as exc:
            print(f"drill: run {number} could not run: {exc}", file=sys.stderr, flush=True)
            return 2
        print(result.row(str(number), point, recovery), flush=True)
        if not result.ok or not result.accounted:
            bad += 1
            print(f"      {result.summary()}", flush=True)
            if refused:
                print(f"      enrolments refused after the restart (made before the kill): {refused}", flush=True)
    print(
        f"drill: {bad} of {args.runs} run(s) lost, doubled or misreported touches" if bad else "drill: all runs clean"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
