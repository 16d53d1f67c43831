"""The profile applied to the five Lambda functions: deployed names, memory, reserved concurrency, environment,
tracing and the backstop's sweep rate."""

from __future__ import annotations

from infra.cfn import BACKSTOP, FIRE, FUNCTIONS, Function, Template, TemplateError, copied, properties, sub
from infra.profiles import Profile

SECRETS_PREFIX = sub("/${AWS::StackName}")  # SSM parameters /<stack>/admin-token, /<stack>/tenants/<id> (lead)

#: Lambda has no X-Ray integration in the China regions (docs.amazonaws.cn, Lambda, "Feature availability"), so a
#: profile that traces turns tracing on only outside the aws-cn partition: one template still serves both.
TRACING_CONDITION = "LambdaTracingAvailable"
TRACING_AVAILABLE = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}]}


def traced(profile: Profile, function: Function) -> bool:
    """X-Ray traces the fire path only (issue 12 §6), and only in profiles that trace."""
    return profile.tracing and function == FIRE


def where_tracing(if_on: str, if_off: str) -> dict[str, list[str]]:
    """`if_on` where Lambda can trace (outside aws-cn), `if_off` elsewhere."""
    return {"Fn::If": [TRACING_CONDITION, if_on, if_off]}


def environment(profile: Profile, function: Function) -> dict[str, object]:
    """The variables every function gets from the profile (on top of Chalice's config and infra/resources.json)."""
    return {
        "SIYU_SECRETS_PREFIX": SECRETS_PREFIX,
        "SIYU_FIRE_SHARD_SIZE": str(profile.fire_shard_size),
        "POWERTOOLS_LOG_LEVEL": profile.log_level,
        "SIYU_PUBLISHED_METRICS": "all" if profile.published_metrics is None else ",".join(profile.published_metrics),
        "POWERTOOLS_TRACE_DISABLED": where_tracing("false", "true") if traced(profile, function) else "true",
    }


def rate_expression(minutes: int) -> str:
    """An EventBridge rate expression (the unit is singular for 1)."""
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def apply_profile(template: Template, profile: Profile) -> Template:
    """Names, memory, reserved concurrency, environment and tracing of every function; the backstop's rate."""
    out = copied(template)
    for function in FUNCTIONS:
        props = properties(out, function.logical_id)
        props["FunctionName"] = function.deployed_name
        props["MemorySize"] = profile.memory_mb[function.chalice_name]
        reserved = profile.reserved_concurrency[function.chalice_name]
        if reserved is None:
            props.pop("ReservedConcurrentExecutions", None)
        else:
            props["ReservedConcurrentExecutions"] = reserved
        props.setdefault("Environment", {}).setdefault("Variables", {}).update(environment(profile, function))
        props["Tracing"] = where_tracing("Active", "PassThrough") if traced(profile, function) else "PassThrough"
    schedules = [
        event
        for event in properties(out, BACKSTOP.logical_id).get("Events", {}).values()
        if event["Type"] == "Schedule"
    ]
    if len(schedules) != 1:
        raise TemplateError(f"{BACKSTOP.logical_id} should have one Schedule event, not {len(schedules)}")
    schedules[0]["Properties"]["Schedule"] = rate_expression(profile.backstop_rate_minutes)
    if profile.tracing:
        out.setdefault("Conditions", {})[TRACING_CONDITION] = TRACING_AVAILABLE
    return out
