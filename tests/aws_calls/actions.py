"""An AWS API operation as the IAM requests AWS authorises it as, with resources named as in the deployed stack.

ARNs keep CloudFormation's pseudo parameters (``${AWS::Partition}``...) as the policy files do, so a recording is
checked against the policies rendered for any stage, region or partition. The test's names (its table, queue, schedule
group...) become the deployed ones (``${AWS::StackName}-main``...); a name the stack does not have stays as it is, and
so matches no grant.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.settings import Settings

PARTITION, REGION, ACCOUNT, STACK = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}", "${AWS::StackName}"
ENV_SECRETS_PREFIX = "SIYU_SECRETS_PREFIX"  # the lead's secrets accessor (issue 12 contract)
ANY_RESOURCE = "*"


@dataclass(frozen=True)
class IamRequest:
    """What IAM evaluates: an action on a resource, with the condition keys the request carries."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    mapped: bool = True  # False: no mapping for this operation here; checked as Resource "*"


def _last(value: str, sep: str) -> str:
    return value.rsplit(sep, 1)[-1]


@dataclass(frozen=True)
class Names:
    """The test stage's resource names -> the deployed stack's (infra/, issue 12 contract)."""

    tables: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    secrets_prefix: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Names:
        e = dict(os.environ if env is None else env)
        s = Settings.from_env(e)
        queues = {
            _last(url, "/"): f"{STACK}-{suffix}"
            for url, suffix in ((s.repair_queue_url, "repair"), (s.repair_dlq_url, "repair-dlq"))
            if url
        }
        if s.schedule_dlq_arn:
            queues[_last(s.schedule_dlq_arn, ":")] = f"{STACK}-schedule-dlq"
        return cls(
            tables={s.table_name: f"{STACK}-main", s.idempotency_table_name: f"{STACK}-idempotency"},
            groups={s.schedule_group: STACK},
            functions={_last(s.fire_target_arn, ":"): f"{STACK}-fire"},
            roles={_last(s.scheduler_role_arn, "/"): f"{STACK}-scheduler"},
            queues=queues,
            buckets={s.blob_bucket: f"{STACK}-blobs-{ACCOUNT}"},
            secrets_prefix=e.get(ENV_SECRETS_PREFIX) or f"/siyu-{s.stage}",
        )

    def table(self, name: str, index: str | None = None) -> str:
        arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.tables.get(name, name)}"
        return f"{arn}/index/{index}" if index else arn

    def parameter(self, name: str) -> str:
        name = name.rsplit(":", 1)[0] if ":" in name else name  # a version or label selector is not in the ARN
        prefix = self.secrets_prefix.rstrip("/")
        if prefix and (name == prefix or name.startswith(prefix + "/")):
            name = f"/{STACK}{name[len(prefix) :]}"
        return f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter{name if name.startswith('/') else '/' + name}"


TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
Mapper = Callable[[str, dict[str, Any], Names], list[IamRequest]]


def _dynamodb(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    if op in ("BatchGetItem", "BatchWriteItem"):  # authorised per table
        return [IamRequest(f"dynamodb:{op}", n.table(t)) for t in p.get("RequestItems", {})]
    if op in ("TransactWriteItems", "TransactGetItems"):  # no action of their own: each item's
        return [
            IamRequest(f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", n.table(body["TableName"]))
            for item in p.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if "TableName" in p:
        return [IamRequest(f"dynamodb:{op}", n.table(p["TableName"], p.get("IndexName")))]
    return [IamRequest(f"dynamodb:{op}", ANY_RESOURCE)]


def _scheduler(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    base = f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}"
    if op.endswith("ScheduleGroup"):
        return [IamRequest(f"scheduler:{op}", f"{base}:schedule-group/{n.groups.get(p['Name'], p['Name'])}")]
    if "Name" not in p:
        return [IamRequest(f"scheduler:{op}", ANY_RESOURCE)]
    group = p.get("GroupName") or "default"
    out = [IamRequest(f"scheduler:{op}", f"{base}:schedule/{n.groups.get(group, group)}/{p['Name']}")]
    role = (p.get("Target") or {}).get("RoleArn")
    if role:  # the schedule's execution role is passed to Scheduler
        name = _last(role, "/")
        passed = (("iam:PassedToService", "scheduler.amazonaws.com"),)
        out.append(IamRequest("iam:PassRole", f"arn:{PARTITION}:iam::{ACCOUNT}:role/{n.roles.get(name, name)}", passed))
    return out


def _lambda(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    action = "lambda:InvokeFunction" if op in ("Invoke", "InvokeAsync") else f"lambda:{op}"
    name = str(p.get("FunctionName", ""))
    name = name.split(":")[6] if name.startswith("arn:") else name.split(":")[0]
    return [IamRequest(action, f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{n.functions.get(name, name)}")]


def _sqs(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    action = f"sqs:{op.removesuffix('Batch')}"  # SendMessageBatch is authorised as SendMessage, and so on
    name = _last(str(p["QueueUrl"]), "/") if "QueueUrl" in p else str(p.get("QueueName", ""))
    return [IamRequest(action, f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{n.queues.get(name, name)}")]


def _ssm(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    names = p.get("Names") or [p.get("Name") or p.get("Path") or ""]
    return [IamRequest(f"ssm:{op}", n.parameter(str(name))) for name in names]


S3_OBJECT_ACTIONS = {"DeleteObjects": "DeleteObject", "HeadObject": "GetObject"}  # authorised per key, as these
S3_BUCKET_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket"}


def _s3(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    bucket = str(p.get("Bucket", ""))
    arn = f"arn:{PARTITION}:s3:::{n.buckets.get(bucket, bucket)}"
    if op in S3_BUCKET_ACTIONS:
        return [IamRequest(f"s3:{S3_BUCKET_ACTIONS[op]}", arn)]
    if op == "DeleteObjects":  # one DeleteObject per key
        keys = [str(o["Key"]) for o in (p.get("Delete") or {}).get("Objects", [])]
        return [IamRequest("s3:DeleteObject", f"{arn}/{key}") for key in keys]
    if "Key" in p:
        return [IamRequest(f"s3:{S3_OBJECT_ACTIONS.get(op, op)}", f"{arn}/{p['Key']}")]
    return [IamRequest(f"s3:{op}", arn)]


def _cloudwatch(op: str, p: dict[str, Any], n: Names) -> list[IamRequest]:
    context = (("cloudwatch:namespace", str(p.get("Namespace", ""))),) if op == "PutMetricData" else ()
    return [IamRequest(f"cloudwatch:{op}", ANY_RESOURCE, context)]


MAPPERS: dict[str, Mapper] = {
    "dynamodb": _dynamodb,
    "scheduler": _scheduler,
    "lambda": _lambda,
    "sqs": _sqs,
    "ssm": _ssm,
    "cloudwatch": _cloudwatch,
    "s3": _s3,
}


def iam_requests(service: str, operation: str, params: dict[str, Any], names: Names) -> list[IamRequest]:
    """The IAM requests one API call makes. An operation of a service not mapped here is checked as
    ``service:Operation`` on Resource "*", flagged unmapped in the report."""
    mapper = MAPPERS.get(service)
    if mapper is None:
        return [IamRequest(f"{service}:{operation}", ANY_RESOURCE, mapped=False)]
    return mapper(operation, params, names)
