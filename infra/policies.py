"""Role policies: the files in policies/ name ARNs with CloudFormation's pseudo parameters, the packager makes them
real. `arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-main` is a literal
string in the file; wrapped in `Fn::Sub` it becomes the right ARN for any stack name, account, region and partition
(aws, aws-cn), so one file serves dev and prod, global and China. The managed policy only some packages need (VPC
networking, with a fixed-IP egress) is attached here too, never written into the files."""

from __future__ import annotations

import re
from typing import Any

from infra.cfn import FUNCTIONS, Function, Template, copied, is_intrinsic, of_type, properties, role_of, sub

#: `${aws:username}`, `${aws:PrincipalTag/team}`, `${s3:prefix}`: IAM policy variables, not CloudFormation references
#: (those are `${AWS::Region}` with two colons, or `${Logical}`/`${Logical.Attr}` without one). Fn::Sub would fail on
#: them, so they are escaped as `${!…}`, which Fn::Sub writes back as the literal `${…}` IAM expects.
_POLICY_VARIABLE = re.compile(r"\$\{(?!!)([A-Za-z0-9-]+:(?!:)[^}]*)\}")

VPC_ACCESS_POLICY = sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")


def substitute(node: Any) -> Any:
    """The node with every string containing `${` wrapped in Fn::Sub (IAM policy variables escaped); intrinsic
    functions already there are left as they are."""
    if isinstance(node, str):
        return sub(_POLICY_VARIABLE.sub(r"${!\1}", node)) if "${" in node else node
    if is_intrinsic(node):
        return node
    if isinstance(node, dict):
        return {key: substitute(value) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item) for item in node]
    return node


def wrap_role_policies(template: Template) -> Template:
    """Every inline policy document of every IAM role, with its `${…}` strings in Fn::Sub."""
    out = copied(template)
    for logical_id in of_type(out, "AWS::IAM::Role"):
        for policy in properties(out, logical_id).get("Policies", []):
            policy["PolicyDocument"] = substitute(policy["PolicyDocument"])
    return out


def attach_managed_policy(
    template: Template, policy_arn: dict[str, str], functions: tuple[Function, ...] = FUNCTIONS
) -> Template:
    """The managed policy added to the roles of the functions given (once, however often this runs)."""
    out = copied(template)
    for function in functions:
        arns = properties(out, role_of(out, function)).setdefault("ManagedPolicyArns", [])
        if policy_arn not in arns:
            arns.append(policy_arn)
    return out
