"""The group-plan bench (issue 10 §9): units and WeCom calls for one group-plan bucket over 100 groups.

A tenant, 100 study groups of one cohort over 5 owners (written to the store as a sync and ops' setup would), a group
plan through the API (kind=group, a day -7 announcement), then: the enrollment of the 100 groups (one request, as
``POST /t/{t}/plans/{id}/groups`` makes it) and the fire of the one bucket their first touches share, each metered
as the SOP bench is (DynamoDB by botocore events, Scheduler calls counted). A warm-up plan's fire over 5 groups runs
first, so the model connections exist and are hooked. WeCom: the groups exist in the sandbox's world too (seeded,
each owned by its owner), and the engine's WeCom client is the app's real one over loopback to the sandbox, which
takes ``add_msg_template`` with ``chat_type: group`` for the sender's own groups only (the others would come back in
``fail_list``). The calls are read from the world's call log and checked: one per owner, every chat id the
sender's, nothing failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.capacity import CallRecord, total_capacity
from bench.common import (
    ADMIN_TOKEN,
    SOP_WECOM,
    SOP_ZONE,
    BenchError,
    count_wecom,
    counts,
    fmt,
    quiet_stdout,
    table,
)
from bench.meter import ApiCallCounter, count_all_calls
from bench.sop import FIRE_DELAY, BenchClock
from bench.sop_results import count_ops

GROUP_TENANT = "grpbench"
GROUP_CORP = "wwgrpbench0000001"
GROUPS = 100
OWNERS = 5


@dataclass
class GroupPhase:
    name: str
    wall_s: float = 0.0
    ddb: list[CallRecord] = field(default_factory=list)
    scheduler_calls: int = 0
    unmetered: int = 0


@dataclass
class GroupResults:
    groups: int
    owners: int
    enroll: GroupPhase
    fire: GroupPhase
    report: dict[str, Any]
    wecom: list[tuple[str, str, int]]  # the fire's add_msg_template calls: (chat_type, sender, chat ids)
    wecom_calls: dict[str, int] = field(default_factory=dict)  # every WeCom call of the fire, by API
    not_owned: int = 0  # chat ids sent to a sender who does not own them (the sandbox's fail_list): must be 0

    def jsonable(self) -> dict[str, Any]:
        def phase(p: GroupPhase) -> dict[str, Any]:
            cap = total_capacity(p.ddb)
            return {
                "wall_s": p.wall_s,
                "billed_read": cap.billed_read,
                "billed_write": cap.billed_write,
                "ddb_calls": count_ops(p.ddb),
                "scheduler_calls": p.scheduler_calls,
                "unmetered": p.unmetered,
            }

        return {
            "groups": self.groups,
            "owners": self.owners,
            "enroll": phase(self.enroll),
            "fire": phase(self.fire),
            "wecom_calls": self.wecom_calls,
            "not_owned": self.not_owned,
            "fire_report": self.report,
        }


def run_groups(
    stack: Any, progress: Callable[[str], None], *, groups: int = GROUPS, owners: int = OWNERS
) -> GroupResults:
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.bootstrap import build
    from chalicelib.domain.groups import GroupSetup, GroupState

    svc = stack.services()
    with quiet_stdout():
        token = _setup_tenant(stack)
    tenant = svc.store.get_tenant(GROUP_TENANT)
    if tenant is None:
        raise BenchError("the group tenant was not created")
    day0 = datetime.now(tenant.zone).date() + timedelta(days=8)  # day -7 is tomorrow: every due time lies ahead
    clock = BenchClock(
        datetime.combine(day0 - timedelta(days=8), datetime.min.time(), tzinfo=tenant.zone).astimezone(UTC)
    )
    scheduler = EventBridgeScheduler.for_settings(svc.settings)
    sched_meter = ApiCallCounter("scheduler")
    sched_meter.attach(scheduler.client)
    world = stack.sandbox.world
    built = build(
        svc.settings,
        store=svc.store,
        wecom=svc.wecom,
        clock=clock,
        ids=svc.ids,
        codec=svc.callbacks.codec,
        scheduler=scheduler,
    )
    progress(f"groups: {groups + owners} groups over {owners} owners in the sandbox and the store (not measured)")
    names = [f"grpowner{i}" for i in range(owners)]
    chats: list[str] = []
    for n in range(groups + owners):
        name, owner = f"思语考研·数学冲刺·3期·{n:03d}", names[n % owners]
        chat_id = str(world.seed_group(GROUP_CORP, owner=owner, name=name)["chat_id"])
        chats.append(chat_id)
        state = GroupState(name=name, owner=owner, member_count=200)
        svc.store.save_group_state(GROUP_TENANT, chat_id, state, expected_rev=0)
        cohort = "3期" if n < groups else "warm"
        svc.store.save_group_setup(
            GROUP_TENANT,
            chat_id,
            GroupSetup(type="study", cohort=cohort, cohort_start=day0.isoformat()),
            expected_rev=0,
        )
    with quiet_stdout():
        warm_id = _plan(stack, token, "warm", "19:00")
        plan_id = _plan(stack, token, "3期", "20:00")
    warm_ids, chat_ids = chats[groups:], chats[:groups]
    built.group_plans.enroll(tenant, warm_id, warm_ids)
    [warm_bucket] = svc.store.plan_buckets(GROUP_TENANT, warm_id, 1, from_minute="0")
    clock.set(datetime.strptime(warm_bucket.minute, "%Y%m%d%H%M").replace(tzinfo=UTC) + FIRE_DELAY)
    built.sop.fire(GROUP_TENANT, warm_bucket.bucket_id)
    clock.set(datetime.combine(day0 - timedelta(days=8), datetime.min.time(), tzinfo=tenant.zone).astimezone(UTC))
    stack.attach_meter()

    progress(f"groups: measuring the enrollment of {groups} groups into a group plan (one request)")
    enroll = GroupPhase("enroll")
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        result = built.group_plans.enroll(tenant, plan_id, chat_ids)
        enroll.wall_s = time.perf_counter() - t0
        enroll.ddb, enroll.scheduler_calls = stack.meter.since(ddb_mark), len(sched_meter.since(sched_mark))
    enroll.unmetered = audit.get("dynamodb", 0) - len(enroll.ddb)
    if len(result.enrolled) != groups:
        raise BenchError(f"{groups - len(result.enrolled)} groups were refused: {result.refused[:3]}")
    [bucket] = svc.store.plan_buckets(GROUP_TENANT, plan_id, 1, from_minute="0")
    clock.set(datetime.strptime(bucket.minute, "%Y%m%d%H%M").replace(tzinfo=UTC) + FIRE_DELAY)
    stack.attach_meter()

    progress(f"groups: measuring the fire of {bucket.bucket_id} ({groups} groups, {owners} owners)")
    fire = GroupPhase("fire")
    before = len(world.calls())
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        report = built.sop.fire(GROUP_TENANT, bucket.bucket_id)
        fire.wall_s = time.perf_counter() - t0
        fire.ddb, fire.scheduler_calls = stack.meter.since(ddb_mark), len(sched_meter.since(sched_mark))
    fire.unmetered = audit.get("dynamodb", 0) - len(fire.ddb)
    if report.sent != groups:
        raise BenchError(f"the group fire sent {report.sent} of {groups}")
    calls = world.calls()[before:]
    templates, not_owned = group_templates(calls, {g["chat_id"]: g["owner"] for g in world.groups(GROUP_CORP)})
    if len(templates) != owners or not_owned or any(c.errcode for c in calls):
        raise BenchError(f"expected {owners} group add_msg_template calls, all accepted: {templates}, {not_owned}")
    fire_report = {"sent": report.sent, "tasks": report.tasks}
    return GroupResults(groups, owners, enroll, fire, fire_report, templates, count_wecom(calls), not_owned)


def group_templates(calls: list[Any], owner_of: dict[str, str]) -> tuple[list[tuple[str, str, int]], int]:
    """The add_msg_template calls of a fire as (chat_type, sender, chat ids), and how many chat ids went to a sender
    who does not own them (what the sandbox, as WeCom, returns in ``fail_list``)."""
    out, not_owned = [], 0
    for call in calls:
        if call.api != "externalcontact/add_msg_template":
            continue
        sender, chat_ids = str(call.payload.get("sender")), list(call.payload.get("chat_id_list") or [])
        out.append((str(call.payload.get("chat_type", "single")), sender, len(chat_ids)))
        not_owned += sum(owner_of.get(c) != sender for c in chat_ids)
    return out, not_owned


def _setup_tenant(stack: Any) -> str:
    body = {"tenant_id": GROUP_TENANT, "name": "社群压测教育", "corp_id": GROUP_CORP, "wecom": SOP_WECOM}
    body["timezone"] = SOP_ZONE
    stack.call("POST", "/admin/tenants", body, ADMIN_TOKEN)
    return str(stack.call("POST", f"/admin/tenants/{GROUP_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"])


def _plan(stack: Any, token: str, cohort: str, at: str) -> str:
    """A published group plan for one cohort: a day -7 announcement, then day 0's."""
    steps = [
        {
            "id": "pre7",
            "day": -7,
            "at": at,
            "content_type": "announcement",
            "phase": "预热",
            "message": {"text": "欢迎加入训练营🎉 请先阅读群公告和群规"},
        },
        {
            "id": "d0",
            "day": 0,
            "at": at,
            "content_type": "announcement",
            "phase": "开营",
            "message": {"text": "今晚开营仪式，不见不散"},
        },
    ]
    doc = {
        "name": f"社群压测 {cohort}",
        "kind": "group",
        "trigger": {"type": "manual"},
        "group_audience": {"types": ["study"], "cohorts": [cohort]},
        "steps": steps,
    }
    plan = stack.call("POST", f"/t/{GROUP_TENANT}/plans", doc, token)
    if "plan_id" not in plan:
        raise BenchError(f"the group plan was refused: {plan}")
    stack.call("POST", f"/t/{GROUP_TENANT}/plans/{plan['plan_id']}/publish", None, token)
    return str(plan["plan_id"])


def render_groups(results: GroupResults, command: str) -> list[str]:
    """The group-plan section of docs/performance.md."""
    rows = []
    for phase in (results.enroll, results.fire):
        cap = total_capacity(phase.ddb)
        rows.append(
            [
                f"{phase.name} ({results.groups} groups)",
                fmt(cap.billed_read),
                fmt(cap.billed_write),
                fmt(cap.billed_total / results.groups, 3),
                counts(count_ops(phase.ddb)),
                str(phase.scheduler_calls),
                fmt(phase.wall_s, 2),
            ]
        )
    senders = sorted({(sender, n) for _, sender, n in results.wecom})
    lines = [
        "## Group plans: one bucket over 100 groups (issue 10 §9)",
        "",
        f"{results.groups} study groups of one cohort over {results.owners} owners, a group plan (`kind=group`, a day "
        "-7 announcement) through the API, then the enrollment of the groups (one request) and the fire of the bucket "
        "their first touches share, on DynamoDB Local, metered as the SOP part is (billed units as AWS bills them). "
        "WeCom: the app's real client against the sandbox, where the groups exist with their owners; "
        "`add_msg_template` with `chat_type: group` takes only the sender's own groups (the others would come back "
        f"in `fail_list`), and the calls are read from the sandbox's call log. Command: `{command}`.",
        "",
    ]
    lines += table(
        ["phase", "read units", "write units", "units per group", "DynamoDB calls", "Scheduler calls", "wall s"], rows
    )
    lines += [
        "",
        f"WeCom calls for the bucket: {len(results.wecom)} `add_msg_template` (chat_type group), "
        + ", ".join(f"{s}: {n} chat ids" for s, n in senders)
        + f"; chat ids outside their sender's groups (`fail_list`): {results.not_owned}; all WeCom calls of the "
        f"fire: {counts(results.wecom_calls)}; fire report: {results.report['sent']} sent in "
        f"{results.report['tasks']} tasks. DynamoDB calls the meters missed: enroll {results.enroll.unmetered}, "
        f"fire {results.fire.unmetered}.",
        "",
    ]
    return lines
