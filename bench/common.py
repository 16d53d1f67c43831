"""What several bench modules share, in one place so that none of them imports another only for a helper: the
bench's error and its stdout guard, the SOP bench's tenant and plan (bench/sop.py and bench/bulk.py both use them),
the tallies both runs take of a measured phase, and the markdown pieces every section of docs/performance.md is
built from (bench/report.py, bench/sop_report.py, bench/bulk_report.py, bench/changes.py).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench import stats
from bench.capacity import CallRecord
from bench.sop_results import ENGINE_CALLS, SopPhase, calls_by_call, units_by_call

ADMIN_TOKEN = "bench-admin-token-0123456789"


class BenchError(RuntimeError):
    """The stack or a scenario did not behave as the bench assumes (a wrong outcome, a failed setup call)."""


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Powertools prints one EMF blob per request to stdout; keep it out of the bench's own output."""
    with contextlib.redirect_stdout(io.StringIO()) as buffer:
        yield
    del buffer


# --- the SOP bench's tenant and plan (bench/sop.py, bench/bulk.py) -------------------------------------------------

SOP_TENANT = "sopbench"
SOP_CORP = "wwsopbench0000001"
SOP_ZONE = "Asia/Shanghai"
SOP_WECOM = {
    "token": "sopBenchToken7",
    "encoding_aes_key": "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v",
    "secret": "sop-bench-secret",
}
STAFF_COUNT = 20
# (id, day, at, content type, text): the "5-step day-based plan", in the spirit of a 7-day nurture.
STEPS = (
    ("s1", 0, "20:00", "marketing", "今晚8点直播：考研英语作文高分模板，点链接预约，直播间送资料包～"),
    ("s2", 1, "09:00", "interactive", "早上好！昨晚直播的笔记整理好了，需要的同学回复 1，我发给你～"),
    ("s3", 2, "20:00", "marketing", "9.9 元体验课今晚开抢：3 节真题精讲 + 1 次作文批改，名额有限。"),
    ("s4", 4, "10:00", "interactive", "最近复习到哪一章啦？有卡住的题目可以直接发我，老师帮你看看。"),
    ("s5", 6, "20:00", "marketing", "新客专享：全年班报名立减 300 元，今晚 24 点截止，私信我锁定名额。"),
)


def app_engine(svc: Any, *, clock: Any, scheduler: Any, shards: Any = None) -> Any:
    """The SOP engine wired as the app wires it (``chalicelib.bootstrap.build``: the signal bus and its subscribers
    included) over the stack's store and WeCom client, but on the bench's clock and (metered) Scheduler adapter."""
    from chalicelib.bootstrap import build  # the app's modules stay off `--help` and the unit tests (~0.3 s)

    return build(
        svc.settings,
        store=svc.store,
        wecom=svc.wecom,
        clock=clock,
        ids=svc.ids,
        codec=svc.callbacks.codec,
        scheduler=scheduler,
        shards=shards,
    ).sop


def plan_document(name: str) -> dict[str, Any]:
    """The plan as ops would POST it (chalicelib/schemas/plan.schema.json)."""
    return {
        "name": name,
        "trigger": {"type": "manual"},
        "audience": {"stages": ["new"]},
        "steps": [
            {
                "id": sid,
                "day": day,
                "at": at,
                "content_type": kind,
                "message": {"text": text},
                "executor": "owner",
                "notes": "按话术发送，客户回复后及时跟进。",
                "lateness": {"max_minutes": 60, "then": "next_slot"},
            }
            for sid, day, at, kind, text in STEPS
        ],
        "exit": [{"type": "order", "kind": "trial"}],
        "reentry": "never",
        "priority": 10,
    }


def bucket_label(step_id: str, minute: str) -> str:
    """``s1 @ 2026-12-02 12:00 UTC`` from a step id and a "YYYYMMDDHHMM" UTC minute."""
    return f"{step_id} @ {minute[:4]}-{minute[4:6]}-{minute[6:8]} {minute[8:10]}:{minute[10:12]} UTC"


def local_time(instant: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An instant as the tenant's local wall time, as the doc shows it."""
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def escaped_calls(audit: Mapping[str, int], phase: SopPhase) -> dict[str, int]:
    """AWS calls the audit saw but the phase's meters did not, by service (the integrity target wants all 0)."""
    return {
        "dynamodb": audit.get("dynamodb", 0) - len(phase.ddb),
        "scheduler": audit.get("scheduler", 0) - len(phase.scheduler),
        "other": sum(v for k, v in audit.items() if k not in ("dynamodb", "scheduler")),
    }


def count_wecom(calls: Iterable[Any]) -> dict[str, int]:
    """WeCom calls by API name, sorted (objects with an ``api`` attribute, like the sandbox world's log)."""
    out: dict[str, int] = {}
    for c in calls:
        out[str(c.api)] = out.get(str(c.api), 0) + 1
    return dict(sorted(out.items()))


# --- markdown ---------------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    """Numbers as the doc shows them: trailing zeros dropped ("1.5", "6"), None as "n/a"."""
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def counts(values: Mapping[str, int] | Mapping[str, float], per: int = 1) -> str:
    """``PutItem 3, GetItem 1``, or with ``per`` each count also per unit; "none" when empty."""
    if not values:
        return "none"
    if per == 1:
        return ", ".join(f"{k} {fmt(v)}" for k, v in values.items())
    return ", ".join(f"{k} {fmt(v)} ({fmt(v / per, 3)}/each)" for k, v in values.items())


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table (a ``|`` inside a cell escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


# --- a measured SOP phase as tables (the enrollment, the fire and the bulk job sections) --------------------------

BY_OP_HEADERS = [
    "operation `item kind`",
    "engine/store call",
    "calls",
    "calls / {unit}",
    "of which condition failed",
    "billed WCU / {unit}",
    "billed RCU / {unit}",
    "time in calls (s)",
    "median per call (ms)",
]


def by_op_headers(unit: str) -> list[str]:
    return [h.format(unit=unit) for h in BY_OP_HEADERS]


def capacity_rows(phase: SopPhase, unit: str) -> list[list[str]]:
    c, p = phase.capacity, phase.per_unit
    return [
        ["write units, billed (AWS)", fmt(c.billed_write, 1), fmt(p.billed_write, 3)],
        ["write units, reported by DynamoDB Local", fmt(c.write, 1), fmt(p.write, 3)],
        ["read units, billed (AWS)", fmt(c.billed_read, 1), fmt(p.billed_read, 3)],
        ["read units, reported by DynamoDB Local", fmt(c.read, 1), fmt(p.read, 3)],
    ]


def by_op_rows(phase: SopPhase) -> list[list[str]]:
    n = max(phase.n, 1)
    units = units_by_call(phase.ddb)
    rows = []
    for key, (calls, failed, total_s, each) in calls_by_call(phase.ddb).items():
        read, write = units[key]
        op, item = key
        rows.append(
            [
                f"{op} `{item}`" if item else op,
                ENGINE_CALLS.get(key, ""),
                str(calls),
                fmt(calls / n, 4),
                str(failed),
                fmt(write / n, 4),
                fmt(read / n, 4),
                fmt(total_s, 1),
                fmt(stats.median(each) * 1000, 2),
            ]
        )
    return rows


def ddb_seconds(phase: SopPhase) -> float:
    return sum(r.seconds for r in phase.ddb)


def phase_calls(phase: SopPhase, operation: str, item: str) -> list[CallRecord]:
    return [r for r in phase.ddb if r.operation == operation and r.item == item]
