"""Facts about the machine and the software under test, so a figure in docs/performance.md can be put in context."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False, cwd=REPO_ROOT)
    except (OSError, subprocess.SubprocessError):
        return "n/a"
    return (out.stdout or out.stderr).strip() or "n/a"


def _proc_field(path: str, name: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "n/a"


def python_display(executable: str = sys.executable) -> str:
    """How a reader would type the interpreter: ``.venv/bin/python`` when it is the repo's venv."""
    path = Path(executable)
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return executable


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "n/a"


def facts(install_dir: Path | None = None) -> dict[str, str]:
    java = shutil.which("java")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    git = _run("git", "rev-parse", "--short", "HEAD")
    dirty = _run("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "`nproc`": _run("nproc"),
        "CPU": _proc_field("/proc/cpuinfo", "model name"),
        "memory": _proc_field("/proc/meminfo", "MemTotal"),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()} ({python_display()})",
        "Java": _run(java, "-version").splitlines()[0] if java else "none",
        "DynamoDB Local": install_dir.name if install_dir else "n/a",
        "packages": ", ".join(
            f"{p} {_version(p)}" for p in ("chalice", "pynamodb", "botocore", "aws-lambda-powertools", "urllib3")
        ),
        "git commit": git + (" (+ uncommitted changes)" if dirty not in ("", "n/a") else ""),
        "load average at start (1/5/15 min)": " / ".join(f"{v:.2f}" for v in load) if load else "n/a",
    }
