"""Small CloudFormation helpers the packaging steps share: intrinsic functions, the function table, lookups.

Every packaging step is a pure function `Template -> Template` (it copies, never mutates its argument), so each can
be unit-tested on a small hand-made template and the packager is just their composition (infra/assemble.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]


def sub(text: str) -> dict[str, str]:
    """`{"Fn::Sub": text}`: pseudo parameters (`${AWS::StackName}`, `${AWS::Partition}`) resolved at deploy time."""
    return {"Fn::Sub": text}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def is_intrinsic(node: Any) -> bool:
    """A `{"Ref": …}` or `{"Fn::…": …}` object: CloudFormation evaluates it, so its strings are not ours to touch."""
    return (
        isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::"))
    )


@dataclass(frozen=True)
class Function:
    """One Lambda function: its Chalice name, its logical id in the SAM template and its deployed name's suffix."""

    chalice_name: str
    logical_id: str
    suffix: str  # after the stack name: "" for the API function (siyu-<stage>), "-fire" for the fire, ...

    @property
    def deployed_name(self) -> dict[str, str]:
        return sub("${AWS::StackName}" + self.suffix)

    @property
    def log_group_name(self) -> dict[str, str]:
        return sub("/aws/lambda/${AWS::StackName}" + self.suffix)


#: The contract between the parts of issue 12: Chalice name -> SAM logical id -> deployed name.
FUNCTIONS = (
    Function("api_handler", "APIHandler", ""),
    Function("fire", "Fire", "-fire"),
    Function("backstop", "Backstop", "-backstop"),
    Function("task_sync", "TaskSync", "-task_sync"),
    Function("silence", "Silence", "-silence"),
)
FIRE = FUNCTIONS[1]
BACKSTOP = FUNCTIONS[2]


class TemplateError(ValueError):
    """The template lacks something a packaging step needs (Chalice or infra/resources.json changed under it)."""


def copied(template: Template) -> Template:
    """A deep copy: steps never change the template they are given."""
    return copy.deepcopy(template)


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    """The resource, or TemplateError naming it."""
    found = template.get("Resources", {}).get(logical_id)
    if not isinstance(found, dict):
        raise TemplateError(f"the template has no resource {logical_id!r}")
    return found


def properties(template: Template, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resource(template, logical_id).setdefault("Properties", {})
    return props


def of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for every resource of the type, in template order."""
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == resource_type}


def role_of(template: Template, function: Function) -> str:
    """The logical id of the IAM role the function runs as (Chalice writes `Role: {"Fn::GetAtt": [<role>, "Arn"]}`)."""
    role = properties(template, function.logical_id).get("Role")
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        raise TemplateError(f"{function.logical_id} has no role of its own in the template")
    return str(role["Fn::GetAtt"][0])


def add_depends_on(resource_body: dict[str, Any], logical_id: str) -> None:
    """Add one DependsOn entry (as a list), keeping those already there."""
    current = resource_body.get("DependsOn", [])
    current = [current] if isinstance(current, str) else list(current)
    if logical_id not in current:
        current.append(logical_id)
    resource_body["DependsOn"] = current
