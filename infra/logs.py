"""A log group per function, with the profile's retention, made before the function.

Lambda creates `/aws/lambda/<function name>` on its first log line, with no retention (logs kept and billed for
ever), and a stack that declares the group afterwards fails on "already exists". So each group is named from the
stack name (as the function is), not from a `Ref` to the function, and the function DependsOn its group: the group
exists, with retention, before the function can log."""

from __future__ import annotations

from infra.cfn import FUNCTIONS, Function, Template, add_depends_on, copied, resource
from infra.profiles import Profile


def log_group_id(function: Function) -> str:
    return f"{function.logical_id}LogGroup"


def add_log_groups(template: Template, profile: Profile) -> Template:
    """`<Function>LogGroup` for every function, RetentionInDays from the profile; each function DependsOn its own."""
    out = copied(template)
    for function in FUNCTIONS:
        out["Resources"][log_group_id(function)] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": function.log_group_name, "RetentionInDays": profile.log_retention_days},
        }
        add_depends_on(resource(out, function.logical_id), log_group_id(function))
    return out
