"""cfn-lint findings that do not apply to this stack, each waived on the resource it is about, with the reason
written next to it in the resource's Metadata (`SiyuLintWaivers`: rule -> why). Anything not listed here must be
fixed in the template, not waived: tests/unit/test_infra_lint.py lints every stage, profile and egress option."""

from __future__ import annotations

from collections.abc import Iterable

from infra.alarms import dead_letter_queues
from infra.cfn import FUNCTIONS, Template, copied, resource
from infra.functions import traced
from infra.profiles import Profile

WHY_TRACING = (
    "X-Ray traces the fire path only (issue 12 §6), and only in profiles with tracing on: a trace of every API "
    "request or periodic sweep costs per trace and answers nothing the JSON logs and EMF metrics do not."
)
WHY_TRACING_CHINA = (
    "Tracing is Active wherever Lambda can trace: an Fn::If turns it off in the aws-cn partition, where Lambda has "
    "no X-Ray integration, and the rule reads only a literal 'Active'."
)
WHY_LOG_GROUP = (
    "The function has its log group (<Function>LogGroup, RetentionInDays from the profile), named from the stack "
    "name like the function so that it exists before the function (which DependsOn it); the rule only recognises a "
    "group whose name refers to the function, which would make the group after the function."
)
WHY_TICK = (
    "A periodic sweep's event is a clock tick with no payload: the next tick redoes the whole sweep, so a failed "
    "one has nothing to keep or replay. The fire's asynchronous invocations, which do carry work, have an on-failure "
    "destination (FireEventInvokeConfig -> FireDeadLetterQueue)."
)
WHY_DLQ = "This queue is a dead-letter queue, the end of the line: it has an alarm on its depth, not a redrive."
WHY_ACCESS_LOGS = (
    "API Gateway access logs need the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account, one per "
    "account and region, which a stack must not own); the API function's JSON logs already record every request "
    "with its request id, route, outcome and error code."
)
WHY_API_TRACING = "X-Ray traces the fire path only (issue 12 §6); the API's latency is in its logs and metrics."
WHY_EMAIL = (
    "An email subscription's delivery failures are the mail system's to report; the alarm itself stays in "
    "CloudWatch, where the runbook (docs/operations.md) starts."
)

PERIODIC = tuple(f for f in FUNCTIONS if f.chalice_name in {"backstop", "task_sync", "silence"})


def waivers(template: Template, profile: Profile) -> Iterable[tuple[str, str, str]]:
    """(logical id, rule, reason) for every waiver this template and profile need."""
    for function in FUNCTIONS:
        yield function.logical_id, "WS1000", WHY_TRACING_CHINA if traced(profile, function) else WHY_TRACING
        yield function.logical_id, "WS1004", WHY_LOG_GROUP
    for function in PERIODIC:
        yield function.logical_id, "ES1007", WHY_TICK
        yield function.logical_id, "ES4000", WHY_TICK
    for queue_id in dead_letter_queues(template):
        yield queue_id, "ES6000", WHY_DLQ
    yield "RestAPI", "ES2000", WHY_ACCESS_LOGS
    yield "RestAPI", "WS2002", WHY_API_TRACING
    if "AlarmEmailSubscription" in template.get("Resources", {}):
        yield "AlarmEmailSubscription", "ES7000", WHY_EMAIL


def apply_waivers(template: Template, profile: Profile) -> Template:
    """Each waiver as `Metadata.cfn-lint.config.ignore_checks` on its resource, its reason in `SiyuLintWaivers`."""
    out = copied(template)
    for logical_id, rule, reason in waivers(out, profile):
        metadata = resource(out, logical_id).setdefault("Metadata", {})
        checks = metadata.setdefault("cfn-lint", {}).setdefault("config", {}).setdefault("ignore_checks", [])
        if rule not in checks:
            checks.append(rule)
        metadata.setdefault("SiyuLintWaivers", {})[rule] = reason
    return out
