"""Where a deploy goes: stack name, region, partition and the S3 URLs CloudFormation reads.

Checked before any AWS call, so a missing region, bucket or credentials is one clear line, not a botocore trace.
China regions are their own partition (`aws-cn`): ARNs say `aws-cn` and S3 endpoints end in `.amazonaws.com.cn`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import boto3

STAGES = ("dev", "prod")
PROFILES = ("small", "medium", "large")
EGRESS = ("none", "nat-gateway", "nat-instance")
# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PARTITION_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}


class DeployError(Exception):
    """A problem the operator must fix; printed as one line, exit status 2, no traceback."""


@dataclass(frozen=True)
class Target:
    stage: str
    stack: str
    region: str
    partition: str

    @property
    def suffix(self) -> str:
        """The DNS suffix of the partition's endpoints."""
        return PARTITION_SUFFIX[self.partition]

    def s3_url(self, bucket: str, key: str) -> str:
        """A virtual-hosted S3 URL for CloudFormation's TemplateURL (regional, so China's endpoints work too)."""
        return f"https://{bucket}.s3.{self.region}.{self.suffix}/{key}"


def stack_name(stage: str, override: str | None = None) -> str:
    """`siyu-<stage>` unless the operator names the stack (every resource name derives from it)."""
    name = override or f"siyu-{stage}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,99}", name):
        raise DeployError(f"stack name {name!r} is not a valid CloudFormation stack name")
    return name


def resolve_region(region: str | None, env: Mapping[str, str] | None = None) -> str:
    """REGION=, else AWS_REGION / AWS_DEFAULT_REGION; never a silent default (the wrong region is costly)."""
    env = os.environ if env is None else env
    found = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not found:
        raise DeployError("no AWS region: pass REGION=us-east-1 (or cn-north-1, ...) or set AWS_REGION")
    partition = boto3.session.Session().get_partition_for_region(found)
    if partition not in PARTITION_SUFFIX:
        raise DeployError(f"region {found!r} is in partition {partition!r}, which Siyu is not set up for")
    return found


def make_target(stage: str, region: str | None, stack: str | None = None) -> Target:
    if stage not in STAGES:
        raise DeployError(f"STAGE must be one of {', '.join(STAGES)} (got {stage!r})")
    resolved = resolve_region(region)
    partition = boto3.session.Session().get_partition_for_region(resolved)
    return Target(stage=stage, stack=stack_name(stage, stack), region=resolved, partition=partition)


def check_bucket(bucket: str | None) -> str:
    if not bucket:
        raise DeployError(
            "no artifact bucket: pass BUCKET=<an S3 bucket in the deploy region> (docs/deploy.md, First-time setup)"
        )
    if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise DeployError(f"BUCKET={bucket!r} is not a valid S3 bucket name")
    return bucket


def check_credentials(session: boto3.session.Session) -> None:
    """botocore's own resolution chain (env, profile, SSO, instance role): no AWS API call is made for it."""
    if session.get_credentials() is None:
        raise DeployError(
            "no AWS credentials: set AWS_PROFILE (aws configure sso / aws configure) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY for the account you deploy to"
        )
