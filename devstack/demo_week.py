"""`make demo-week`: a week of realistic activity on a running `make run` stack, then the funnel it produced.

    python -m devstack.demo_week [--days 7] [--seed 11] [--scans 20-60]

It talks to the stack over HTTP only (ports from SIYU_API_PORT and SIYU_SANDBOX_PORT, as `make run`), with the demo
tenant's token and events secret that `make run` keeps in devstack/.data/. The week itself is devstack.demo_activity,
what it needs first devstack.demo_setup. At the end it prints the dashboard link (POST /t/demo/dashboard-links; the
funnel API's URL while that route is missing), the funnel and CSV curls, and one line of the funnel's numbers read
back from GET /t/demo/metrics/funnel, and exits 1 if that funnel came back empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.demo_activity import Driver, Week
from devstack.demo_setup import HOLDOUT_PERCENT, Answer, DemoError, Endpoint, Setup, expect, prepare
from devstack.seed import DEMO_CORP_ID, DEMO_TENANT_ID, EVENTS_SECRET_FILE, TENANT_TOKEN_FILE

API_PORT, SANDBOX_PORT = "SIYU_API_PORT", "SIYU_SANDBOX_PORT"  # the Makefile's (devstack.run reads the same)
DATA_DIR = Path(__file__).resolve().parent / ".data"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only: never via a proxy


@dataclass(frozen=True)
class HttpEndpoint:
    """An Endpoint over HTTP (the running stack); a connection failure raises DemoError."""

    base: str
    timeout: float = 600.0  # a clock move waits for the pump to catch up

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json; charset=utf-8")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DemoError(f"{method} {self.base}{path}: no answer ({getattr(exc, 'reason', exc)})") from exc
        text = raw.decode("utf-8", errors="replace")
        try:
            return Answer(status, json.loads(text) if text else None)
        except ValueError:
            return Answer(status, text)


@dataclass
class Summary:
    funnel: dict[str, Any]
    line: str
    empty: bool


def read_back(api: Endpoint, week: Week, plan_id: str) -> Summary:
    """The funnel of the week's dates, and its numbers in one line: new customers, CAC, ROI, the plan's lift."""
    path = f"/t/{week.tenant_id}/metrics/funnel?from={week.first_date}&to={week.last_date}&by=channel"
    funnel = expect(api("GET", path, token=week.token), "GET", path, 200)
    h = funnel.get("headlines") or {}
    plan: dict[str, Any] = next(
        (r for r in funnel.get("tables", {}).get("plans", []) if r.get("plan_id") == plan_id), {}
    )
    stages = ", ".join(f"{s['label']} {s['value']}" for s in funnel.get("funnel", []))
    line = (
        f"funnel {week.first_date}..{week.last_date}: {stages} | new customers {h.get('new')}, "
        f"CAC ¥{_yuan(h.get('cac'))}, ROI {_num(h.get('roi'))}, GMV ¥{_yuan(h.get('gmv'))} | plan lift "
        f"{_pct(plan.get('lift'))} (95% {_pct(plan.get('lift_low'))}..{_pct(plan.get('lift_high'))}; treated "
        f"{plan.get('converted')}/{plan.get('enrolled')}, holdout {plan.get('holdout_converted')}/"
        f"{plan.get('holdout_enrolled')})"
    )
    empty = not h.get("new") or not any(s.get("value") for s in funnel.get("funnel", []))
    return Summary(funnel, line, empty)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}" if isinstance(value, int | float) else str(value)


def _yuan(fen: Any) -> str:
    """The API's money is in fen (分)."""
    return _num(fen / 100 if isinstance(fen, int | float) else fen)


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value * 100:+.1f}%"


def dashboard_link(api: Endpoint, api_base: str, week: Week) -> str:
    """The dashboard's signed link, or (while POST …/dashboard-links is not there) the funnel API's URL."""
    path = f"/t/{week.tenant_id}/dashboard-links"
    answer = api("POST", path, {}, token=week.token)
    if answer.status in (200, 201) and isinstance(answer.body, dict) and answer.body.get("url"):
        return f"dashboard  {api_base}{answer.body['url']}"
    funnel = f"{api_base}/t/{week.tenant_id}/metrics/funnel?from={week.first_date}&to={week.last_date}"
    return f"dashboard  not in this build yet (POST {path} answered {answer.status}); the funnel API: {funnel}"


def run_week(
    api: Endpoint,
    sandbox: Endpoint,
    *,
    tenant_id: str,
    corp_id: str,
    token: str,
    events_secret: str,
    days: int,
    seed: int,
    scans: tuple[int, int],
    log: Callable[[str], None],
) -> tuple[Week, Setup, Summary]:
    """Prepare, play ``days`` days, read the funnel back: what the command and the tests run."""
    setup = prepare(api, sandbox, tenant_id=tenant_id, corp_id=corp_id, token=token)
    if setup.created:
        log("made: " + ", ".join(setup.created))
    clock = expect(sandbox("GET", "/sandbox/clock"), "GET", "/sandbox/clock", 200)
    run_id = f"dw{seed}-{clock['unix']}"
    week = Week(tenant_id, corp_id, token, events_secret, setup, random.Random(seed), run_id, scans)
    log(
        f"run {run_id}: {days} day(s) from the stack's {clock['now']}, channels "
        + ", ".join(c.spec.name for c in setup.channels)
        + f", plan {setup.plan_id} (holdout {HOLDOUT_PERCENT}%)"
    )
    Driver(api, sandbox, week, log).run(days)
    return week, setup, read_back(api, week, setup.plan_id)


def _scans(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--scans takes MIN-MAX, e.g. 20-60, got {text!r}") from exc
    if not 0 < lo <= hi <= 500:
        raise argparse.ArgumentTypeError("--scans: 0 < MIN <= MAX <= 500")
    return lo, hi


def _kept(name: str) -> str:
    path = DATA_DIR / name
    text = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not text:
        raise DemoError(f"{path} is missing: start the stack with `make run` first (it seeds the demo tenant)")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A week of demo activity on a running `make run` stack")
    parser.add_argument("--days", type=int, default=7, choices=range(1, 29), metavar="N", help="days (default 7)")
    parser.add_argument("--seed", type=int, default=11, help="the random seed (default 11)")
    parser.add_argument("--scans", type=_scans, default=(20, 60), help="scans per day, MIN-MAX (default 20-60)")
    args = parser.parse_args(argv)
    api_base = f"http://127.0.0.1:{os.environ.get(API_PORT) or 8000}"
    sandbox_base = f"http://127.0.0.1:{os.environ.get(SANDBOX_PORT) or 8001}"
    api, sandbox = HttpEndpoint(api_base), HttpEndpoint(sandbox_base)
    try:
        _stack_is_up(api, sandbox)
        week, _, summary = run_week(
            api,
            sandbox,
            tenant_id=DEMO_TENANT_ID,
            corp_id=DEMO_CORP_ID,
            token=_kept(TENANT_TOKEN_FILE),
            events_secret=_kept(EVENTS_SECRET_FILE),
            days=args.days,
            seed=args.seed,
            scans=args.scans,
            log=lambda line: print(line, flush=True),
        )
        print(dashboard_link(api, api_base, week))
    except DemoError as exc:
        print(f"demo-week: {exc}", file=sys.stderr)
        return 2
    q = f"from={week.first_date}&to={week.last_date}"
    auth = '-H "Authorization: Bearer $(cat devstack/.data/tenant_token)"'
    print(f"funnel     curl -s '{api_base}/t/{DEMO_TENANT_ID}/metrics/funnel?{q}&by=channel' {auth}")
    print(f"CSV        curl -s '{api_base}/t/{DEMO_TENANT_ID}/metrics/export/channels.csv?{q}' {auth} -o channels.csv")
    print(summary.line)
    if summary.empty:
        print("demo-week: the funnel came back empty", file=sys.stderr)
        return 1
    return 0


def _stack_is_up(api: Endpoint, sandbox: Endpoint) -> None:
    """A clear message when `make run` is not running on these ports."""
    for name, endpoint, path in (("API", api, "/health"), ("WeCom sandbox", sandbox, "/sandbox/health")):
        try:
            endpoint("GET", path)
        except DemoError as exc:
            raise DemoError(
                f"the local stack's {name} does not answer ({exc}). Start it with `make run` in another terminal, "
                f"with the same {API_PORT}/{SANDBOX_PORT} as here."
            ) from exc


if __name__ == "__main__":
    sys.exit(main())
