"""What `make run` prints once everything is up: the banner, from the stack's state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.settings import Settings
from devstack.jobs import STAGE


@dataclass
class StackState:
    """What the banner reports."""

    api_url: str = ""
    sandbox_url: str | None = None
    dynamodb_endpoint: str = ""
    dynamodb_kind: str = ""
    scheduler_endpoint: str = ""
    settings: Settings | None = None
    pump: str | None = None  # what the Scheduler pump does (None: not running)
    admin_token: str = ""
    admin_token_source: str = ""
    seeded: dict[str, Any] | None = None
    seed_error: str | None = None
    clock: str | None = None  # the stack's clock beside the machine's (Stamp.long)
    timings: dict[str, float] = field(default_factory=dict)


def banner(state: StackState, *, reload: bool) -> str:
    """The ready-to-use summary printed once everything is up."""
    s = state.settings
    lines = [
        "",
        "=" * 100,
        "  Siyu local stack is up.  Ctrl-C stops everything.",
        "=" * 100,
        f"  API            {state.api_url}   (chalice local, stage {STAGE}"
        + (", reloads on code changes)" if reload else ")"),
        f"  WeCom sandbox  {state.sandbox_url or '(not running: devstack/sandbox.py missing)'}",
        f"  DynamoDB       {state.dynamodb_endpoint}   {state.dynamodb_kind}",
        f"  Scheduler      {state.scheduler_endpoint}   (moto stores schedules but never fires them: the pump does)",
        f"  Pump           {state.pump or 'NOT RUNNING: due touches stay unfired'}",
    ]
    if state.clock is not None:
        lines.append(f"  Clock          {state.clock}")
        if state.sandbox_url:
            lines.append(
                f"                 move it: curl -s -X POST {state.sandbox_url}/sandbox/clock "
                """-H 'Content-Type: application/json' -d '{"advance": "PT10H"}'"""
            )
    if s is not None:
        lines.append(f"  Tables         {s.table_name}, {s.idempotency_table_name};  schedule group {s.schedule_group}")
    lines.append(f"  Admin token    {state.admin_token}   ({state.admin_token_source})")
    seeded = state.seeded
    if seeded:
        channel = seeded["channel"]
        tenant_how = "created" if seeded["tenant_created"] else "already there"
        channel_how = "created" if seeded["channel_created"] else "already there"
        console = seeded.get("console") or {}
        if console:
            lines += [
                f"  Console        {console['url']}   (运营台: sign in with the tenant token below, or a link)",
                f"  Sign in (管理员) {console['ops_link']}   (ops pages, erasure and rebuilds too)",
                f"  Sign in (张老师) {console['staff_link']}",
                "                 (each link works once, within 15 minutes; staff can also sign in through WeCom",
                "                 on the console's sign-in page, played by the sandbox)",
            ]
            if state.sandbox_url:
                lines.append(
                    f"  Sandbox phone  {state.sandbox_url}/sandbox/ui   (沙箱手机: customers scan, reply, buy, "
                    "join groups and check in; staff create groups, confirm tasks, open chats; the clock)"
                )
        lines += [
            f"  Demo tenant    {seeded['tenant_id']} / corp {seeded['corp_id']} ({tenant_how})",
            f"  Tenant token   {seeded['tenant_token']}   (role admin, {seeded.get('tenant_token_source', 'new')})",
            f"  Events secret  {seeded['events_secret']}   ({seeded['events_secret_source']}; signs POST "
            f"/t/{seeded['tenant_id']}/events)",
            f"  Demo channel   {channel.get('name', '?')}  state={seeded['channel_state']!r}  ({channel_how})",
            "  Sandbox        "
            + ("demo corp registered for callbacks" if seeded["sandbox_registered"] else "demo corp NOT registered"),
            "",
            "  Try it:",
            f"    curl -s {state.api_url}/t/{seeded['tenant_id']}/channels "
            f"-H 'Authorization: Bearer {seeded['tenant_token']}'",
        ]
        if state.sandbox_url and seeded["channel_state"]:
            scan = json.dumps({"corp_id": seeded["corp_id"], "state": seeded["channel_state"]}, ensure_ascii=False)
            lines.append(
                f"    curl -s -X POST {state.sandbox_url}/sandbox/scan -H 'Content-Type: application/json' -d '{scan}'"
            )
        lines += [f"  NOTE: {w}" for w in seeded["warnings"]]
    else:
        lines.append(f"  Demo tenant    NOT SEEDED: {state.seed_error or 'seeding disabled (--no-seed)'}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in state.timings.items())
    lines += ["", f"  Startup: {timing}", "=" * 100, ""]
    return "\n".join(lines)
