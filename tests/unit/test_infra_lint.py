"""`make package` end to end: `chalice package` runs once per stage (cached for the session), the packager builds
every profile and egress option from it, and cfn-lint with the serverless rules (global and China regions) finds
nothing. The packaged template stays well under CloudFormation's 1 MB."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from infra import package
from infra.assemble import build
from infra.cfn import Template
from infra.profiles import load_profile

LINT = ManualArgs(append_rules=["cfn_lint_serverless.rules"], regions=["us-east-1", "cn-north-1", "cn-northwest-1"])
CLOUDFORMATION_LIMIT = 1_000_000  # bytes of a template read from S3 (TemplateURL)
SIZE_BUDGET = 300_000  # a wide margin: the SAM transform and new routes must still fit (137 KB at issue 14)

#: Each stage, each profile and each egress option at least once (3 lints of ~8 s rather than 18): the stage changes
#: the tables' protection, the profile values, the egress option resources, and none of them interact.
COMBINATIONS = [("dev", "small", "none"), ("prod", "medium", "nat-instance"), ("prod", "large", "nat-gateway")]


@pytest.fixture(scope="session")
def chalice_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    """Chalice's SAM template (infra/resources.json merged) per stage: `chalice package` once each."""
    out: dict[str, Template] = {}
    for stage in ("dev", "prod"):
        directory = package.chalice_package(stage, tmp_path_factory.mktemp(f"chalice-{stage}") / "out")
        out[stage] = json.loads((directory / "sam.json").read_text(encoding="utf-8"))
    return out


def _findings(template: Template) -> list[str]:
    return [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in lint(package.render(template), config=LINT)
    ]


@pytest.mark.parametrize(("stage", "profile", "egress"), COMBINATIONS)
def test_the_packaged_template_lints_clean(
    chalice_templates: dict[str, Template], stage: str, profile: str, egress: str
) -> None:
    built = build(chalice_templates[stage], stage=stage, profile=load_profile(profile), egress_option=egress)
    assert _findings(built) == []


def test_without_its_waivers_the_lint_would_fail(chalice_templates: dict[str, Template]) -> None:
    """The lint test can fail: strip the waivers and the findings they cover come back."""
    built = build(chalice_templates["prod"], stage="prod", profile=load_profile("small"), egress_option="none")
    body = built["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    body["paths"] = dict(
        list(body["paths"].items())[:1]
    )  # one route is enough here, and lints in a fraction of the time
    for resource in built["Resources"].values():
        resource.get("Metadata", {}).pop("cfn-lint", None)
    rules = {finding.split()[0] for finding in _findings(built)}
    assert {"WS1000", "WS1004", "ES1007", "ES4000", "ES6000", "ES2000", "WS2002", "ES7000"} <= rules


def test_every_lambda_function_in_the_template_is_one_the_packager_knows(
    chalice_templates: dict[str, Template],
) -> None:
    functions = {
        k for k, v in chalice_templates["dev"]["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    }
    assert functions == {"APIHandler", "Fire", "Backstop", "TaskSync", "Silence"}


def _strings(node: Any, skip: frozenset[str] = frozenset()) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in skip for s in _strings(v, skip)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item, skip)]
    return []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_name_or_partition_is_hard_wired(chalice_templates: dict[str, Template], stage: str) -> None:
    """Everything derives from the stack name and the partition, so STACK= and the China regions work. (The roles'
    policies are the policy files', checked by their own tests.)"""
    built = build(chalice_templates[stage], stage=stage, profile=load_profile("large"), egress_option="nat-gateway")
    strings = _strings(built["Resources"], skip=frozenset({"Policies"}))
    assert [s for s in strings if f"siyu-{stage}" in s or "arn:aws:" in s] == []
    assert any("${AWS::StackName}-fire" in s for s in strings)  # the scan does see the names


def test_the_packaged_template_is_well_under_cloudformations_limit(chalice_templates: dict[str, Template]) -> None:
    built = build(chalice_templates["prod"], stage="prod", profile=load_profile("large"), egress_option="nat-instance")
    size = len(package.render(built).encode("utf-8"))
    assert size < SIZE_BUDGET < CLOUDFORMATION_LIMIT, f"{size:,} bytes"
    pretty = len(json.dumps(built, indent=2).encode("utf-8"))
    assert pretty > size * 1.5  # what indentation alone would cost
    paths = built["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert {method for operations in paths.values() for method in operations} == {"x-amazon-apigateway-any-method"}
    unfolded = chalice_templates["prod"]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert sum(len(operations) for operations in unfolded.values()) > 4 * len(paths)  # what folding saves


def test_make_package_writes_the_template_and_the_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        package.main(["--stage", "prod", "--profile", "medium", "--egress", "nat-gateway", "--out", str(tmp_path)]) == 0
    )
    template: dict[str, Any] = json.loads((tmp_path / "sam.json").read_text(encoding="utf-8"))
    assert template["Metadata"]["Siyu"] == {"stage": "prod", "profile": "medium", "egress": "nat-gateway"}
    assert template["Resources"]["Fire"]["Properties"]["CodeUri"] == "./deployment.zip"
    assert (tmp_path / "deployment.zip").stat().st_size > 1_000_000
    assert "stage prod, profile medium, egress nat-gateway" in capsys.readouterr().out


def test_a_bad_profile_fails_before_chalice_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        package.main(["--profile", "tiny", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "invalid choice: 'tiny'" in capsys.readouterr().err
    assert not (tmp_path / "sam.json").exists()


def test_chalice_package_runs_take_turns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two packagers in one checkout (xdist workers) never run `chalice package` at once: its cached zip is written
    in place, and the second would ship it half-written."""
    monkeypatch.setattr(package, "CHALICE_CACHE", tmp_path / "deployments")
    order: list[str] = []
    first_inside, release_first = threading.Event(), threading.Event()

    def first() -> None:
        with package._one_at_a_time():
            order.append("first in")
            first_inside.set()
            release_first.wait(5)
            order.append("first out")

    def second() -> None:
        with package._one_at_a_time():
            order.append("second in")

    a = threading.Thread(target=first)
    a.start()
    assert first_inside.wait(5)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive() and order == ["first in"]  # waiting for the first
    release_first.set()
    a.join(5)
    b.join(5)
    assert order == ["first in", "first out", "second in"]


def test_make_package_passes_its_variables_with_their_defaults() -> None:
    def dry_run(*variables: str) -> str:
        command = ["make", "-n", "package", *variables]
        return subprocess.run(command, cwd=package.REPO_ROOT, capture_output=True, text=True, check=True).stdout

    out = dry_run("STAGE=prod", "PROFILE=large", "EGRESS=nat-gateway")
    assert "-m infra.package --stage prod --profile large --egress nat-gateway --out out/prod" in out
    assert "-m infra.package --stage dev --profile small --egress none --out out/dev" in dry_run()
