"""CloudFormation through change sets: create or update, wait, and on failure say why from the stack's events.

The clients and the sleep are passed in, so the tests drive every call with botocore's Stubber and no real wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from infra.target import DeployError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# A stack in one of these can take a change set of type UPDATE; REVIEW_IN_PROGRESS (a create never executed) takes
# CREATE again; ROLLBACK_COMPLETE (a first create that failed) can only be deleted.
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
DONE_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"}
DONE_BAD = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_FAILED",
}
# What CloudFormation says when a change set would change nothing (not an error for a deploy).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
POLL_SECONDS = 10.0
MAX_POLLS = 720  # two hours at 10 s: a first create with a custom domain can take 40 minutes

Sleep = Callable[[float], None]
Say = Callable[[str], None]


def describe_stack(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack as CloudFormation describes it, or None when there is no such stack (DELETE_COMPLETE stacks are not
    listed by name)."""
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return None
        raise
    return dict(stacks[0]) if stacks else None


def stack_status(cfn: Any, stack: str) -> str | None:
    described = describe_stack(cfn, stack)
    return str(described["StackStatus"]) if described else None


def alarm_email_parameters(kind: str, email: str | None, described: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The stack's AlarmEmail parameter: the address given; on an update without one, the address the stack has
    (CloudFormation would otherwise fall back to the template's empty default and drop the subscription)."""
    if email:
        return [{"ParameterKey": "AlarmEmail", "ParameterValue": email}]
    keys = {p.get("ParameterKey") for p in (described or {}).get("Parameters", [])}
    if kind == "UPDATE" and "AlarmEmail" in keys:
        return [{"ParameterKey": "AlarmEmail", "UsePreviousValue": True}]
    return []


def change_set_type(status: str | None, stack: str) -> str:
    if status is None or status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack} is ROLLBACK_COMPLETE (its first create failed): `make destroy` it, then deploy again"
        )
    if status not in UPDATABLE:
        raise DeployError(f"stack {stack} is {status}: wait until it settles, then deploy again")
    return "UPDATE"


def failure_reasons(cfn: Any, stack: str) -> list[str]:
    """The FAILED events' reasons of the latest operation (events come newest first; stop at the one that began it)."""
    reasons: list[str] = []
    pages = cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
    for page in pages:
        for event in page["StackEvents"]:
            status = str(event.get("ResourceStatus", ""))
            if status.endswith("FAILED") and event.get("ResourceStatusReason"):
                reasons.append(f"{event['LogicalResourceId']} {status}: {event['ResourceStatusReason']}")
            if (
                event.get("ResourceType") == "AWS::CloudFormation::Stack"
                and event.get("LogicalResourceId") == stack
                and status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
                and event.get("ResourceStatusReason") == "User Initiated"
            ):
                return list(reversed(reasons))
    return list(reversed(reasons))


def wait_stack(cfn: Any, stack: str, sleep: Sleep, say: Say, *, deleting: bool = False) -> str:
    """Poll until the stack settles; a failure raises with the events' reasons."""
    for _ in range(MAX_POLLS):
        status = stack_status(cfn, stack)
        if status is None and deleting:
            return "DELETE_COMPLETE"
        if status in DONE_OK:
            return str(status)
        if status in DONE_BAD:
            reasons = failure_reasons(cfn, stack)
            listed = "\n  ".join(reasons or ["(no event gave a reason)"])
            raise DeployError(f"stack {stack} ended {status}:\n  {listed}")
        say(f"  {stack}: {status}")
        sleep(POLL_SECONDS)
    raise DeployError(f"stack {stack} did not settle in {MAX_POLLS * POLL_SECONDS / 60:.0f} minutes")


def wait_change_set(cfn: Any, stack: str, name: str, sleep: Sleep) -> dict[str, Any] | None:
    """The change set once created; None when it has nothing to change (it is deleted then)."""
    for _ in range(MAX_POLLS):
        described: dict[str, Any] = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        status = described["Status"]
        if status == "CREATE_COMPLETE":
            return described
        if status == "FAILED":
            reason = str(described.get("StatusReason", ""))
            if any(marker in reason for marker in NO_CHANGES):
                cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                return None
            raise DeployError(f"change set {name} for {stack} failed: {reason}")
        sleep(POLL_SECONDS)
    raise DeployError(f"change set {name} for {stack} was not ready in time")


def deploy_stack(
    cfn: Any,
    stack: str,
    template_url: str,
    change_set: str,
    tags: dict[str, str],
    sleep: Sleep,
    say: Say,
    *,
    alarm_email: str | None = None,
) -> bool:
    """Create or update `stack` from the template at `template_url`; False when there was nothing to change."""
    described = describe_stack(cfn, stack)
    kind = change_set_type(str(described["StackStatus"]) if described else None, stack)
    say(f"{'creating' if kind == 'CREATE' else 'updating'} stack {stack} (change set {change_set})")
    parameters = alarm_email_parameters(kind, alarm_email, described)
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=change_set,
        ChangeSetType=kind,
        TemplateURL=template_url,
        Capabilities=CAPABILITIES,
        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        **({"Parameters": parameters} if parameters else {}),
    )
    described = wait_change_set(cfn, stack, change_set, sleep)
    if described is None:
        say(f"no changes: stack {stack} already matches this template")
        return False
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        say(f"  {rc.get('Action', '?'):<7} {rc.get('LogicalResourceId', '?')} ({rc.get('ResourceType', '?')})")
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
    sleep(POLL_SECONDS)  # never read the status the stack had before the execution began as its outcome
    status = wait_stack(cfn, stack, sleep, say)
    say(f"stack {stack}: {status}")
    return True


def stack_outputs(cfn: Any, stack: str) -> dict[str, str]:
    stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])} if stacks else {}


def delete_stack(cfn: Any, stack: str, sleep: Sleep, say: Say) -> bool:
    """Delete `stack` and wait; False when there was no such stack."""
    if stack_status(cfn, stack) is None:
        say(f"no stack {stack}: nothing to delete")
        return False
    cfn.delete_stack(StackName=stack)
    wait_stack(cfn, stack, sleep, say, deleting=True)
    say(f"stack {stack}: DELETE_COMPLETE")
    return True
