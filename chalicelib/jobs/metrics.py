"""The metrics rebuild as a command (issue 11 §5): recompute a tenant's counters for a range of local days from the
fact log, with the stage's settings from the environment (as the Lambdas read them), for an operator who would
rather not go through the admin route (`POST /t/{tenant_id}/metrics/rebuild`, which does the same).

    python -m chalicelib.jobs.metrics --tenant demo --from 2026-12-01 --to 2026-12-07
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.errors import SiyuError


def rebuild(tenant_id: str, date_from: str, date_to: str) -> dict[str, Any]:
    svc = services()
    return svc.metrics.rebuild(svc.tenants.get(tenant_id), date_from, date_to)  # NotFoundError for no such tenant


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.jobs.metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", required=True, help="the tenant id")
    parser.add_argument("--from", dest="date_from", required=True, help="the first local day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", required=True, help="the last local day, YYYY-MM-DD (≤ 92 days)")
    args = parser.parse_args(argv)
    try:
        report = rebuild(args.tenant, args.date_from, args.date_to)
    except SiyuError as exc:
        print(f"rebuild refused: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
