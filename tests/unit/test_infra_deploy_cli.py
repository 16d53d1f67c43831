"""`python -m infra.deploy` and the make targets: options reach the deploy, and bad settings stop it before AWS."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import deploy as dep
from infra.target import DeployError, Target
from tests.unit.offline_aws import no_ambient_aws  # noqa: F401  (autouse: no ambient AWS settings)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "--stage", "dev", "--bucket", "b-b-b"], "no AWS region"),
        (["deploy", "--stage", "dev", "--region", "us-east-1"], "no artifact bucket"),
        (["deploy", "--stage", "dev", "--region", "us-east-1", "--bucket", "Bad_Bucket"], "not a valid S3 bucket"),
        (["deploy", "--stage", "dev", "--region", "us-east-1", "--bucket", "siyu-artifacts"], "no AWS credentials"),
        (["deploy", "--stage", "qa", "--region", "us-east-1", "--bucket", "siyu-artifacts"], "STAGE must be one of"),
        (["destroy", "--stage", "prod", "--region", "us-east-1"], "needs CONFIRM=siyu-prod (got nothing)"),
        (["destroy", "--stage", "prod", "--region", "us-east-1", "--confirm", "siyu-dev"], "needs CONFIRM=siyu-prod"),
    ],
)
def test_missing_settings_fail_clearly_before_any_aws_call(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    session = boto3.session.Session()  # no credentials anywhere (the fixture); any AWS call would raise, not exit 2
    assert dep.main(argv, session=session) == 2
    assert message in capsys.readouterr().err


def test_main_hands_the_options_to_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_deploy(target: Target, **kwargs: Any) -> dict[str, str]:
        seen.update(kwargs, target=target)
        return {}

    monkeypatch.setattr(dep, "deploy", fake_deploy)
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    argv = ["deploy", "--stage", "prod", "--region", "cn-north-1", "--bucket", "siyu-art", "--profile", "large"]
    assert dep.main([*argv, "--egress", "nat-gateway", "--stack", "scrm-prod"], session=session) == 0
    assert seen["target"] == Target(stage="prod", stack="scrm-prod", region="cn-north-1", partition="aws-cn")
    assert (seen["bucket"], seen["profile"], seen["egress"]) == ("siyu-art", "large", "nat-gateway")


def test_the_packager_runs_the_infra_package_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    class Done:
        returncode = 0

    def fake_run(command: list[str], **kwargs: Any) -> Done:
        calls.append(command)
        return Done()

    monkeypatch.setattr(dep.subprocess, "run", fake_run)
    dep.run_packager("dev", "small", "none", tmp_path)
    assert calls[0][1:] == [
        *("-m", "infra.package", "--stage", "dev", "--profile", "small", "--egress", "none"),
        *("--out", str(tmp_path)),
    ]
    Done.returncode = 3
    with pytest.raises(DeployError, match="packaging failed"):
        dep.run_packager("dev", "small", "none", tmp_path)


def test_make_passes_its_variables_through() -> None:
    out = subprocess.run(
        [
            "make",
            "-n",
            "deploy",
            "STAGE=prod",
            "PROFILE=medium",
            "EGRESS=nat-instance",
            "BUCKET=b-1",
            "REGION=cn-north-1",
        ],
        cwd=dep.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-m infra.deploy deploy --stage prod --profile medium --egress nat-instance" in out
    assert "--bucket b-1 --region cn-north-1" in out
    out = subprocess.run(
        ["make", "-n", "destroy", "STAGE=prod", "CONFIRM=siyu-prod"], cwd=dep.REPO_ROOT, capture_output=True, text=True
    ).stdout
    assert "-m infra.deploy destroy --stage prod --confirm siyu-prod" in out
