"""The policy files (policies/<function>.json), rendered as the packaged stack does, and a small IAM evaluator.

Only what the policies use is evaluated: Allow statements, Action and Resource globs (``*``, ``?``), and the
conditions StringEquals, StringLike, ArnEquals and ArnLike. Anything else (Deny, NotAction, another operator) is
refused by the lint, so the evaluator never silently ignores part of a policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.aws_calls.actions import IamRequest

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
FUNCTIONS = ("api_handler", "fire", "backstop", "task_sync", "silence")  # Chalice's names (the files' names)
PSEUDO = ("${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}", "${AWS::StackName}")
WILDCARD_SUFFIX = "Wildcard"
OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")
STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


@dataclass(frozen=True)
class Target:
    """Where a policy is rendered for: the packaged stack's pseudo parameters."""

    partition: str
    region: str
    account: str
    stack: str

    def render(self, text: str) -> str:
        values = (self.partition, self.region, self.account, self.stack)
        for name, value in zip(PSEUDO, values, strict=True):
            text = text.replace(name, value)
        return text


TARGETS = (  # the checked stages: dev and prod, in the global and the China partition
    Target("aws", "us-east-1", "123456789012", "siyu-dev"),
    Target("aws", "us-east-1", "123456789012", "siyu-prod"),
    Target("aws-cn", "cn-north-1", "123456789012", "siyu-prod"),
)


def load_policies(directory: Path = POLICIES_DIR) -> dict[str, dict[str, Any]]:
    return {name: json.loads((directory / f"{name}.json").read_text()) for name in FUNCTIONS}


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_glob(pattern, ignore_case).match(value))


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str], target: Target) -> bool:
    for operator, tests in condition.items():
        if operator not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here")
        for key, wanted in tests.items():
            have = context.get(key)
            if have is None:
                return False
            values = [target.render(v) for v in _list(wanted)]
            if operator.endswith("Like") and not any(matches(v, have) for v in values):
                return False
            if operator.endswith("Equals") and have not in values:
                return False
    return True


def granting(policy: Mapping[str, Any], request: IamRequest, target: Target) -> list[tuple[str, str]]:
    """(Sid, action pattern) of each statement that allows ``request`` (the recording rendered for ``target``)."""
    resource = target.render(request.resource)
    context = dict(request.context)
    found = []
    for st in policy["Statement"]:
        if st.get("Effect") != "Allow":
            continue
        action = next((a for a in _list(st["Action"]) if matches(a, request.action, ignore_case=True)), None)
        if action is None:
            continue
        if not any(matches(target.render(r), resource) for r in _list(st["Resource"])):
            continue
        if _condition_holds(st.get("Condition", {}), context, target):
            found.append((str(st.get("Sid", "")), action))
    return found


def lint(policy: Mapping[str, Any]) -> list[str]:
    """What is wrong with a policy file, as sentences; [] when it is in the contract's form."""
    problems = []
    if policy.get("Version") != "2012-10-17":
        problems.append('Version must be "2012-10-17"')
    sids: set[str] = set()
    for i, st in enumerate(policy.get("Statement", [])):
        sid = str(st.get("Sid", ""))
        where = f"statement {i} ({sid or 'no Sid'})"
        if not sid or sid in sids:
            problems.append(f"{where}: needs a Sid of its own")
        sids.add(sid)
        if set(st) - STATEMENT_KEYS:
            problems.append(f"{where}: {sorted(set(st) - STATEMENT_KEYS)} are not evaluated by the policy test")
        if st.get("Effect") != "Allow":
            problems.append(f"{where}: only Allow statements")
        for operator in st.get("Condition", {}):
            if operator not in OPERATORS:
                problems.append(f"{where}: condition operator {operator} is not evaluated by the policy test")
        strings = _list(st.get("Action", [])) + _list(st.get("Resource", []))
        if any("*" in s for s in strings) and not sid.endswith(WILDCARD_SUFFIX):
            problems.append(f"{where}: has * in Action or Resource, so its Sid must end in {WILDCARD_SUFFIX}")
        for s in strings:
            unknown = set(re.findall(r"\$\{[^}]*\}", s)) - set(PSEUDO)
            if unknown:
                problems.append(f"{where}: {sorted(unknown)} is not a pseudo parameter the packager can substitute")
            if "${" not in s and s.startswith("arn:"):
                problems.append(f"{where}: {s} names a fixed partition/account; use the pseudo parameters")
    return problems


def wildcard_sids(policies: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(st["Sid"]) for p in policies for st in p["Statement"] if str(st["Sid"]).endswith(WILDCARD_SUFFIX)}
