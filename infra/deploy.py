"""`python -m infra.deploy deploy|destroy`: what `make deploy` and `make destroy` run (docs/deploy.md).

Deploy: package (infra.package writes out/<stage>/sam.json and deployment.zip), upload both to the artifact bucket
under content-addressed keys (the template is too large to pass inline: CloudFormation takes 51 KB inline, 1 MB by
TemplateURL), create or update the stack through a change set, wait, print what the admin sets up next.
Destroy: prod asks for CONFIRM=<stack name>; the prod tables outlive the stack (Retain + deletion protection).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import stack as cfn_stack
from infra.target import EGRESS, PROFILES, DeployError, Target, check_bucket, check_credentials, make_target

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY_PREFIX = "siyu"  # artifact keys: siyu/<stack>/<sha256>.zip and .template.json
RETAINED_IN_PROD = ("main", "idempotency")  # table suffixes with DeletionPolicy Retain and deletion protection

Packager = Callable[[str, str, str, Path], None]
Say = Callable[[str], None]


def run_packager(stage: str, profile: str, egress: str, out: Path) -> None:
    """The infra helper's packager, in a child process (it runs `chalice package`, which wants a clean interpreter)."""
    command = [sys.executable, "-m", "infra.package", "--stage", stage, "--profile", profile, "--egress", egress]
    command += ["--out", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise DeployError(f"packaging failed (exit {result.returncode}): {' '.join(command)}")


@dataclass
class Clients:
    """The three clients a deploy uses; built from one session so they share credentials and region."""

    cloudformation: Any
    s3: Any
    ssm: Any

    @classmethod
    def for_session(cls, session: boto3.session.Session, region: str) -> Clients:
        return cls(
            cloudformation=session.client("cloudformation", region_name=region),
            s3=session.client("s3", region_name=region),
            ssm=session.client("ssm", region_name=region),
        )


@dataclass
class Artifacts:
    template: dict[str, Any]
    zip_bytes: bytes
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256(self.zip_bytes).hexdigest()


def read_artifacts(out: Path) -> Artifacts:
    template_path, zip_path = out / "sam.json", out / "deployment.zip"
    for path in (template_path, zip_path):
        if not path.is_file():
            raise DeployError(f"packaging left no {path}: run `make package` and look at its output")
    return Artifacts(template=json.loads(template_path.read_text(encoding="utf-8")), zip_bytes=zip_path.read_bytes())


def point_code_at(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """A copy of the template whose functions' local CodeUri (./deployment.zip) is the uploaded zip (as `aws
    cloudformation package` would do); nothing else changes."""
    copy: dict[str, Any] = json.loads(json.dumps(template))
    for resource in copy.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = {"Bucket": bucket, "Key": key}
    return copy


def upload(clients: Clients, target: Target, bucket: str, artifacts: Artifacts, say: Say) -> str:
    """Put the zip and the template; returns the template's URL. Keys are content hashes: a re-deploy of the same
    code re-uses them, and an old version stays for a rollback."""
    zip_key = f"{KEY_PREFIX}/{target.stack}/{artifacts.digest}.zip"
    body = json.dumps(point_code_at(artifacts.template, bucket, zip_key), indent=1, sort_keys=True).encode()
    if len(body) > 1_000_000:
        raise DeployError(f"the template is {len(body):,} bytes; CloudFormation reads at most 1,000,000 from S3")
    template_key = f"{KEY_PREFIX}/{target.stack}/{hashlib.sha256(body).hexdigest()}.template.json"
    try:
        clients.s3.put_object(Bucket=bucket, Key=zip_key, Body=artifacts.zip_bytes)
        clients.s3.put_object(Bucket=bucket, Key=template_key, Body=body, ContentType="application/json")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise DeployError(
            f"cannot upload to s3://{bucket} ({code}): the bucket must exist in {target.region} and be writable by "
            "these credentials"
        ) from exc
    say(f"uploaded s3://{bucket}/{zip_key} ({len(artifacts.zip_bytes):,} bytes) and the template ({len(body):,} bytes)")
    return target.s3_url(bucket, template_key)


def secrets_to_set(clients: Clients, target: Target) -> list[str]:
    """The secrets an admin must still put (the admin token; a tenant's secrets come with the tenant)."""
    name = f"/{target.stack}/admin-token"
    try:
        clients.ssm.get_parameter(Name=name, WithDecryption=False)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return [name]
        raise
    return []


def next_steps(target: Target, outputs: dict[str, str], egress: str, missing: list[str]) -> list[str]:
    api = outputs.get("EndpointURL", "(no EndpointURL output)")
    lines = [
        f"API URL: {api}",
        f"WeCom callback URL (per tenant): {api.rstrip('/')}/wecom/<tenant_id>/callback",
        "  on your custom domain (what WeCom accepts): https://<domain>/wecom/<tenant_id>/callback",
    ]
    if egress != "none":
        lines.append(
            f"EgressIp: {outputs.get('EgressIp', '(no EgressIp output)')}: add it to each corp's trusted IPs "
            "(WeCom admin console), or its API calls get errcode 60020"
        )
    for name in missing:
        lines.append(
            f"secret still to set: {name}: aws ssm put-parameter --region {target.region} --type SecureString "
            f"--name {name} --value <token> (docs/deploy.md, Secrets)"
        )
    lines.append(f"tenant secrets: /{target.stack}/tenants/<tenant_id>, written by POST /admin/tenants")
    return lines


def deploy(
    target: Target,
    *,
    bucket: str,
    profile: str,
    egress: str,
    clients: Clients,
    packager: Packager = run_packager,
    out: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    say: Say = print,
    alarm_email: str | None = None,
) -> dict[str, str]:
    out = out or REPO_ROOT / "out" / target.stage
    say(f"packaging {target.stage} (profile {profile}, egress {egress}) into {out}")
    packager(target.stage, profile, egress, out)
    artifacts = read_artifacts(out)
    url = upload(clients, target, bucket, artifacts, say)
    tags = {"siyu:stage": target.stage, "siyu:profile": profile, "siyu:egress": egress}
    change_set = f"deploy-{artifacts.digest[:12]}-{url.rsplit('/', 1)[-1][:12]}"
    cfn_stack.deploy_stack(
        clients.cloudformation, target.stack, url, change_set, tags, sleep, say, alarm_email=alarm_email
    )
    outputs = cfn_stack.stack_outputs(clients.cloudformation, target.stack)
    for line in next_steps(target, outputs, egress, secrets_to_set(clients, target)):
        say(line)
    return outputs


def retained_notice(target: Target) -> list[str]:
    tables = [f"{target.stack}-{suffix}" for suffix in RETAINED_IN_PROD]
    lines = [f"prod keeps its tables after the stack is gone (DeletionPolicy Retain, deletion protection): {tables}"]
    lines.append("to delete them for real (their data is gone for good; take an on-demand backup first):")
    for table in tables:
        lines.append(
            f"  aws dynamodb update-table --region {target.region} --table-name {table} "
            "--no-deletion-protection-enabled"
        )
        lines.append(f"  aws dynamodb delete-table --region {target.region} --table-name {table}")
    return lines


def destroy(target: Target, *, clients: Clients, sleep: Callable[[float], None] = time.sleep, say: Say = print) -> bool:
    if target.stage == "prod":
        for line in retained_notice(target):
            say(line)
    return cfn_stack.delete_stack(clients.cloudformation, target.stack, sleep, say)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("deploy", "destroy"):
        p = sub.add_parser(name)
        p.add_argument("--stage", required=True)
        p.add_argument("--region", default=None, help="default: AWS_REGION / AWS_DEFAULT_REGION")
        p.add_argument("--stack", default=None, help="stack name (default siyu-<stage>)")
    dep = sub.choices["deploy"]
    dep.add_argument("--bucket", default=None, help="artifact bucket in the deploy region")
    dep.add_argument("--profile", default="small", choices=PROFILES)
    dep.add_argument("--egress", default="none", choices=EGRESS)
    dep.add_argument("--alarm-email", default=None, help="subscribe this address to the alarms (kept on updates)")
    sub.choices["destroy"].add_argument("--confirm", default="", help="prod only: the stack name, to confirm")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, session: boto3.session.Session | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        target = make_target(args.stage, args.region, args.stack)
        if args.command == "deploy":
            bucket = check_bucket(args.bucket)
        elif target.stage == "prod" and args.confirm != target.stack:
            raise DeployError(f"destroying prod needs CONFIRM={target.stack} (got {args.confirm or 'nothing'})")
        session = session or boto3.session.Session(region_name=target.region)
        check_credentials(session)
        clients = Clients.for_session(session, target.region)
        if args.command == "deploy":
            deploy(
                target,
                bucket=bucket,
                profile=args.profile,
                egress=args.egress,
                clients=clients,
                alarm_email=args.alarm_email,
            )
        else:
            destroy(target, clients=clients)
    except DeployError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"{args.command}: AWS said: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
