"""The group-plan bench (issue 10 §9): units and WeCom calls for one group-plan bucket over 100 groups.

A tenant, 100 study groups of one cohort over 5 owners (written to the store as a sync and ops' setup would), a group
plan through the API (kind=group, a day -7 announcement), then: the enrollment of the 100 groups (one request, as
``POST /t/{t}/plans/{id}/groups`` makes it) and the fire of the one bucket their first touches share, each metered
as the SOP bench is (DynamoDB by botocore events, Scheduler calls counted). A warm-up plan's fire over 5 groups runs
first, so the model connections exist and are hooked. WeCom: the group policy's ``add_msg_template`` calls go to a
counter here (the sandbox's world plays customer mass messages only until group messages land in it): the figure is
the calls the kernel makes, one per owner per bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bench.capacity import CallRecord, total_capacity
from bench.common import ADMIN_TOKEN, SOP_WECOM, SOP_ZONE, BenchError, counts, fmt, quiet_stdout, table
from bench.meter import ApiCallCounter, count_all_calls
from bench.sop import FIRE_DELAY, BenchClock
from bench.sop_results import count_ops

GROUP_TENANT = "grpbench"
GROUP_CORP = "wwgrpbench0000001"
GROUPS = 100
OWNERS = 5


@dataclass
class GroupCalls:
    """``add_msg_template`` as the group policy calls it, counted (the sandbox plays customer messages only)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (chat_type, sender, recipients)

    def add_msg_template(self, creds: Any, *, sender: str, message: Any, chat_type: str = "single", **kw: Any) -> Any:
        from chalicelib.ports import MsgTemplateResult

        recipients = kw.get("chat_ids") or kw.get("external_userids") or []
        self.calls.append((chat_type, sender, len(recipients)))
        return MsgTemplateResult(msgid=f"grpmsg{len(self.calls):06d}")


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
    wecom: list[tuple[str, str, int]]

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
            "wecom_calls": len(self.wecom),
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
    wecom = GroupCalls()
    built = build(
        svc.settings,
        store=svc.store,
        wecom=cast(Any, wecom),
        clock=clock,
        ids=svc.ids,
        codec=svc.callbacks.codec,
        scheduler=scheduler,
    )
    progress(f"groups: writing {groups + owners} groups over {owners} owners (not measured)")
    names = [f"grpowner{i}" for i in range(owners)]
    for n in range(groups + owners):
        chat_id = f"wrbench{n:05d}"
        state = GroupState(name=f"思语考研·数学冲刺·3期·{n:03d}", owner=names[n % owners], member_count=200)
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
    warm_ids = [f"wrbench{n:05d}" for n in range(groups, groups + owners)]
    chat_ids = [f"wrbench{n:05d}" for n in range(groups)]
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
    before = len(wecom.calls)
    with count_all_calls() as audit:
        ddb_mark, sched_mark = stack.meter.mark(), sched_meter.mark()
        t0 = time.perf_counter()
        report = built.sop.fire(GROUP_TENANT, bucket.bucket_id)
        fire.wall_s = time.perf_counter() - t0
        fire.ddb, fire.scheduler_calls = stack.meter.since(ddb_mark), len(sched_meter.since(sched_mark))
    fire.unmetered = audit.get("dynamodb", 0) - len(fire.ddb)
    if report.sent != groups:
        raise BenchError(f"the group fire sent {report.sent} of {groups}")
    return GroupResults(
        groups, owners, enroll, fire, {"sent": report.sent, "tasks": report.tasks}, wecom.calls[before:]
    )


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
        "WeCom `add_msg_template` calls are counted by a stand-in (the sandbox plays customer mass messages only): "
        f"one per owner per bucket. Command: `{command}`.",
        "",
    ]
    lines += table(
        ["phase", "read units", "write units", "units per group", "DynamoDB calls", "Scheduler calls", "wall s"], rows
    )
    lines += [
        "",
        f"WeCom calls for the bucket: {len(results.wecom)} `add_msg_template` (chat_type group), "
        + ", ".join(f"{s}: {n} chat ids" for s, n in senders)
        + f"; fire report: {results.report['sent']} sent in {results.report['tasks']} tasks. DynamoDB calls the "
        f"meters missed: enroll {results.enroll.unmetered}, fire {results.fire.unmetered}.",
        "",
    ]
    return lines
