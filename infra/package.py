"""`python -m infra.package --stage dev|prod --profile small|medium|large --egress none|nat-gateway|nat-instance
--out out/<stage>`: the deployable stack in out/<stage>/ (sam.json and deployment.zip). docs/deploy.md, Packaging.

`chalice package` (no AWS credentials needed) writes Chalice's SAM template with infra/resources.json merged in;
infra.assemble applies the profile and the rest; the template is written as compact JSON, which keeps it under
half of CloudFormation's 1 MB limit for a template read from S3 (most of it is the REST API's OpenAPI body)."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from infra.assemble import STAGES, build
from infra.cfn import Template, TemplateError
from infra.egress import EGRESS_OPTIONS
from infra.profiles import ProfileError, load_profile, load_profiles

REPO_ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = REPO_ROOT / "infra" / "resources.json"
CHALICE_CACHE = REPO_ROOT / ".chalice" / "deployments"  # gitignored
DEFAULT_REGION = "us-east-1"  # chalice package wants a region; nothing in the template depends on it


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Chalice writes its cached zip (.chalice/deployments/<hash>.zip) in place, and a second `chalice package`
    that finds it half-written would ship it: runs in one checkout (pytest-xdist workers, two terminals) take turns."""
    CHALICE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(CHALICE_CACHE / ".infra-package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def chalice_package(stage: str, workdir: Path) -> Path:
    """Run `chalice package` for the stage into workdir; the directory holding its sam.json and deployment.zip."""
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice), "package", "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(workdir)]
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)}
    with _one_at_a_time():
        subprocess.run(command, cwd=REPO_ROOT, env=env, check=True)
    return workdir


def render(template: Template) -> str:
    """Compact JSON (no indentation, no spaces after separators): the size CloudFormation counts."""
    return json.dumps(template, separators=(",", ":"), ensure_ascii=False)


def package(stage: str, profile_name: str, egress: str, out: Path) -> Path:
    """Package the stage into `out` (sam.json + deployment.zip); the template's path."""
    profile = load_profile(profile_name)  # before the slow part: a typo fails in a second
    with tempfile.TemporaryDirectory(prefix="siyu-package-") as tmp:
        chalice_out = chalice_package(stage, Path(tmp) / "chalice")
        template = json.loads((chalice_out / "sam.json").read_text(encoding="utf-8"))
        built = build(template, stage=stage, profile=profile, egress_option=egress)
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(str(chalice_out / "deployment.zip"), out / "deployment.zip")
    target = out / "sam.json"
    target.write_text(render(built), encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=STAGES, default="dev")
    parser.add_argument("--profile", choices=sorted(load_profiles()), default="small")
    parser.add_argument("--egress", choices=EGRESS_OPTIONS, default="none")
    parser.add_argument("--out", type=Path, help="output directory (default: out/<stage>)")
    args = parser.parse_args(argv)
    out = args.out or REPO_ROOT / "out" / args.stage
    try:
        template = package(args.stage, args.profile, args.egress, out)
    except (ProfileError, TemplateError) as exc:
        print(f"infra.package: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"infra.package: chalice package failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    size = template.stat().st_size
    print(f"{template} ({size:,} bytes; stage {args.stage}, profile {args.profile}, egress {args.egress})")
    print(f"{out / 'deployment.zip'} ({(out / 'deployment.zip').stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
