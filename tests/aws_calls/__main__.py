"""Re-check the last recording (test-artifacts/aws-calls/) against policies/ as they are now, without running the
suite again: ``python -m tests.aws_calls``. While narrowing a policy, this says at once which recorded call a removed
grant would refuse. Exit 1 if any is refused."""

from __future__ import annotations

import sys

from tests.aws_calls.check import Tally, check, report
from tests.aws_calls.plugin import CALLS_DIR, REPORT
from tests.aws_calls.policy import load_policies


def main() -> int:
    tally = Tally.load(sorted(CALLS_DIR.glob("*.json")))
    if not tally.calls:
        print(f"no recording in {CALLS_DIR}: run the functional suite first")
        return 2
    result = check(tally, load_policies())
    REPORT.write_text(report(tally, result))
    print(f"{tally.calls} calls from {tally.tests} tests; {len(result.denials)} refused; see {REPORT}")
    for denial in result.denials:
        print(f"REFUSED {denial.line()}")
    return 1 if result.denials else 0


if __name__ == "__main__":
    sys.exit(main())
