"""The checker: each recorded call against its function's policy, for every target stage; and what went unused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.aws_calls.actions import IamRequest
from tests.aws_calls.policy import TARGETS, Target, granting
from tests.aws_calls.recorder import Call

MAX_TESTS = 3  # tests named per recorded call in the report
PER_ITEM = re.compile(r"(:schedule/[^/]+/|:parameter/[^/]+/tenants/).+$")  # one schedule per bucket, one per tenant


@dataclass
class Seen:
    """One distinct (function, IAM request), how often it was made, and the first tests that made it."""

    function: str
    request: IamRequest
    count: int = 0
    tests: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        r = self.request
        return {"function": self.function, "action": r.action, "resource": r.resource, "context": r.context,
                "mapped": r.mapped, "count": self.count, "tests": self.tests}  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Seen:
        context = tuple((str(k), str(v)) for k, v in d["context"])
        request = IamRequest(d["action"], d["resource"], context, bool(d["mapped"]))
        return cls(d["function"], request, int(d["count"]), list(d["tests"]))


class Tally:
    """Calls folded by (function, request): a suite makes hundreds of thousands, of a few dozen kinds."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, IamRequest], Seen] = {}
        self.outside = 0  # the tests' own calls (setup, assertions): no function's
        self.tests = 0  # functional tests that ran with the recorder

    def add(self, call: Call) -> None:
        self.merge(Seen(call.function, call.request, 1, [call.test]))

    def merge(self, item: Seen) -> None:
        mine = self.seen.setdefault((item.function, item.request), Seen(item.function, item.request))
        mine.count += item.count
        mine.tests += [t for t in item.tests if t not in mine.tests][: MAX_TESTS - len(mine.tests)]

    @property
    def calls(self) -> int:
        return sum(s.count for s in self.seen.values())

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"tests": self.tests, "outside": self.outside, "seen": [s.to_json() for s in self.seen.values()]}
        path.write_text(json.dumps(body, ensure_ascii=False))

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Tally:
        tally = cls()
        for path in paths:
            body = json.loads(path.read_text())
            tally.outside += int(body["outside"])
            tally.tests += int(body["tests"])
            for item in body["seen"]:
                tally.merge(Seen.from_json(item))
        return tally


@dataclass(frozen=True)
class Denial:
    """A recorded request no statement of its function's policy allows, for these targets."""

    seen: Seen
    targets: tuple[Target, ...]

    def line(self) -> str:
        r, stacks = self.seen.request, ", ".join(f"{t.partition}/{t.stack}" for t in self.targets)
        cond = "".join(f" [{k}={v}]" for k, v in r.context)
        unmapped = " (operation not mapped to IAM by tests/aws_calls/actions.py)" if not r.mapped else ""
        return (f"{self.seen.function}: {r.action} on {r.resource}{cond}{unmapped} (refused for {stacks}) "
                f"— {self.seen.count} call(s), e.g. {', '.join(self.seen.tests)}")  # fmt: skip


@dataclass
class Result:
    denials: list[Denial]
    unused: list[str]  # "<function>.json <Sid>: <action pattern>" no recorded call was granted through


def check(tally: Tally, policies: Mapping[str, Mapping[str, Any]], targets: Iterable[Target] = TARGETS) -> Result:
    denials: list[Denial] = []
    used: set[tuple[str, str, str]] = set()
    for seen in tally.seen.values():
        policy = policies.get(seen.function, {"Statement": []})
        refused = []
        for target in targets:
            grants = granting(policy, seen.request, target)
            if not grants:
                refused.append(target)
            used.update((seen.function, sid, action) for sid, action in grants)
        if refused:
            denials.append(Denial(seen, tuple(refused)))
    unused = [
        f"{function}.json {st['Sid']}: {action}"
        for function, policy in policies.items()
        for st in policy["Statement"]
        for action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
        if (function, str(st["Sid"]), action) not in used
    ]
    return Result(denials, unused)


def report(tally: Tally, result: Result) -> str:
    """The markdown report: figures, refused calls, what no call used."""
    by_function: dict[str, int] = {}
    for s in tally.seen.values():
        by_function[s.function] = by_function.get(s.function, 0) + s.count
    lines = [
        "# Policy test report",
        "",
        f"{tally.calls} AWS calls recorded from the app ({len(tally.seen)} distinct function/action/resource) in "
        f"{tally.tests} functional tests; {tally.outside} calls made by the tests themselves were not checked.",
        "Checked for: " + ", ".join(f"{t.partition} {t.region} stack {t.stack}" for t in TARGETS) + ".",
        "",
        "| function | calls |",
        "|---|---|",
        *(f"| {f} | {n} |" for f, n in sorted(by_function.items())),
        "",
        f"## Refused calls ({len(result.denials)})",
        "",
        *(f"- {d.line()}" for d in result.denials),
        "",
        f"## Grants no recorded call used ({len(result.unused)})",
        "",
        "Not a failure: a grant only the deployed stack exercises (SQS, Lambda invoke, X-Ray, logs, SSM before the",
        "secrets migration) or one only part of the suite reaches when a subset of tests ran.",
        "",
        *(f"- {u}" for u in result.unused),
        "",
        "## Recorded calls",
        "",
        *(f"- {f}: {a} {r} ×{n}" for (f, a, r), n in sorted(_folded(tally).items())),
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def _folded(tally: Tally) -> dict[tuple[str, str, str], int]:
    """Recorded calls by function, action and resource, a schedule's or a tenant's own name folded to <name>."""
    out: dict[tuple[str, str, str], int] = {}
    for s in tally.seen.values():
        key = (s.function, s.request.action, PER_ITEM.sub(r"\1<name>", s.request.resource))
        out[key] = out.get(key, 0) + s.count
    return out
