"""Cold import time of app.py: what every Lambda cold start pays before the first request is even parsed.

Each run is a fresh interpreter (the only honest "cold"); the OS file cache is warm after the first run, as it is
on a Lambda host that keeps the deployment package mounted, so one untimed run goes first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import stats

IMPORT_SNIPPET = "import time; t=time.perf_counter(); import app; print(time.perf_counter()-t)"
IMPORTTIME_SNIPPET = "import app"


@dataclass(frozen=True)
class ImportRow:
    """One line of ``python -X importtime``: microseconds spent in the module itself and including its imports."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


@dataclass(frozen=True)
class ImportTimes:
    seconds: list[float]
    top: list[ImportRow]  # by cumulative time, median over the importtime runs
    importtime_runs: int

    @property
    def median(self) -> float:
        return stats.median(self.seconds)


def parse_importtime(stderr: str) -> list[ImportRow]:
    """Rows of ``-X importtime`` output ("import time: self [us] | cumulative | imported package")."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        self_us, cumulative_us, name = parts
        if not self_us.strip().isdigit():  # the header line
            continue
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append(ImportRow(name.strip(), int(self_us), int(cumulative_us), depth))
    return rows


def top_cumulative(runs: Sequence[Sequence[ImportRow]], n: int = 10) -> list[ImportRow]:
    """The n modules with the largest median cumulative time across runs (each module's median self time too)."""
    by_module: dict[str, list[ImportRow]] = {}
    for rows in runs:
        for row in rows:
            by_module.setdefault(row.module, []).append(row)
    merged = [
        ImportRow(
            name,
            int(stats.median([r.self_us for r in rows])),
            int(stats.median([r.cumulative_us for r in rows])),
            rows[0].depth,
        )
        for name, rows in by_module.items()
    ]
    return sorted(merged, key=lambda r: r.cumulative_us, reverse=True)[:n]


def clean_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without SIYU_* (nothing is read at import, and it must stay that way)."""
    env = dict(os.environ if environ is None else environ)
    return {k: v for k, v in env.items() if not k.startswith("SIYU_") and k != "PYTHONPROFILEIMPORTTIME"}


def time_cold_imports(python: str, cwd: Path, runs: int) -> list[float]:
    """Seconds to ``import app`` in ``runs`` fresh interpreters (after one untimed run that warms the file cache)."""
    env = clean_env()
    results = []
    for i in range(runs + 1):
        out = subprocess.run(
            [python, "-c", IMPORT_SNIPPET], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=120
        )
        if i:
            results.append(float(out.stdout.strip().splitlines()[-1]))
    return results


def importtime_rows(python: str, cwd: Path, runs: int) -> list[list[ImportRow]]:
    env = clean_env()
    return [
        parse_importtime(
            subprocess.run(
                [python, "-X", "importtime", "-c", IMPORTTIME_SNIPPET],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stderr
        )
        for _ in range(runs)
    ]


def measure(python: str, cwd: Path, *, runs: int, importtime_runs: int, top: int = 10) -> ImportTimes:
    return ImportTimes(
        seconds=time_cold_imports(python, cwd, runs),
        top=top_cumulative(importtime_rows(python, cwd, importtime_runs), top),
        importtime_runs=importtime_runs,
    )
