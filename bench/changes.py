"""docs/performance.md's *Since the previous full run*: this run's headline figures beside the last full run's, and
why they moved, read from the calls each run made (so the prose cannot drift from the tables it explains).

The baseline is the previous full run's doc (``BASELINE_COMMIT``), copied here once by hand; everything else is
computed from this run. Update the baseline when a run's figures become the new reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench import stats
from bench.common import fmt
from bench.report import Report, Summary
from bench.sop_results import ENGINE_CALLS, SopPhase, units_by_call

BASELINE_COMMIT = "4f57467"  # docs/performance.md of the previous full run (`git show 4f57467:docs/performance.md`)
BASELINE_DATE = "2026-11-22 11:20 UTC"

# Billed units per enrollment / touch / bulk customer by (operation, item kind) in the baseline (its by-call tables;
# calls under 0.001 a unit left out). The monthly quota item was then keyed `C/QUOTA`; it is the timeline's `C/F` now.
ENROLL_BEFORE: dict[tuple[str, str], tuple[float, float]] = {
    ("GetItem", "C/PROFILE"): (0.5, 0.0),
    ("GetItem", "T/PLAN"): (0.5, 0.0),
    ("PutItem", "BKT/*"): (0.0, 1.0),
    ("PutItem", "C/ENR"): (0.0, 1.0),
}
FIRE_BEFORE: dict[tuple[str, str], tuple[float, float]] = {
    ("BatchGetItem", "C/ENR"): (1.0, 0.0),
    ("BatchGetItem", "C/PROFILE"): (0.5, 0.0),
    ("PutItem", "TASK/RCPT"): (0.0, 0.018),
    ("PutItem", "TASK/TASK"): (0.0, 0.008),
    ("Query", "table:BKT"): (0.1012, 0.0),
    ("Query", "table:C"): (1.0, 0.0),
    ("UpdateItem", "BKT/*"): (0.0, 1.0),
    ("UpdateItem", "C/F"): (0.0, 1.0),
}
BULK_BEFORE: dict[tuple[str, str], tuple[float, float]] = {
    ("BatchGetItem", "C/ENR"): (1.0, 0.0),
    ("BatchGetItem", "C/PROFILE"): (0.5, 0.0),
    ("GetItem", "T/PLAN"): (0.0051, 0.0),
    ("PutItem", "BKT/*"): (0.0, 1.0),
    ("PutItem", "C/ENR"): (0.0, 1.0),
    ("PutItem", "JOB/JOB"): (0.0, 0.0204),
    ("Query", "gsi1:CUSTOMERS"): (0.12, 0.0),
}
# Billed units per delivery by operation in the baseline's callback scenarios.
CALLBACK_BEFORE: dict[str, dict[str, float]] = {
    "new": {"BatchGetItem": 3, "GetItem": 0.5, "PutItem": 3, "UpdateItem": 1},
    "duplicate": {"BatchGetItem": 1},
    "new_nocache": {"BatchGetItem": 3, "GetItem": 1, "PutItem": 3, "UpdateItem": 1},
    "duplicate_nocache": {"BatchGetItem": 1, "GetItem": 0.5},
}

# What an enrollment's writes are, for the paragraph that explains them (keys as ENGINE_CALLS).
ENROLL_WRITE_WHY = {
    ("PutItem", "C/ENR"): "the enrollment itself (conditional put)",
    ("PutItem", "BKT/*"): "its first touch, in the step's bucket",
    ("PutItem", "PLE/*"): "the plan's roster entry (`T#<tid>#PLE#<plan_id>` / `<cid>`, key only; a plan lists its "
    "enrollments from it without an index), written before the enrollment",
    ("PutItem", "C/F"): "the enrollment's start on the customer's timeline (an `F#…` entry)",
    ("UpdateItem", "C/PROFILE"): "the first enrollment of a `new` customer makes it `nurturing` (`advance_stage`): "
    "the profile's UpdateItem is billed once on the table and once on gsi1's copy (the customer list index, "
    "projection ALL)",
}


@dataclass(frozen=True)
class Row:
    figure: str
    before: float
    now: float | None
    digits: int
    why: str


def _delta(now: Mapping[str, float], before: Mapping[str, float], name: Callable[[str], str]) -> str:
    """`+1 put_roster, -0.5 GetItem`: what changed between two {what: units per unit} maps (|change| >= 0.005)."""
    parts = []
    for key in sorted(set(now) | set(before)):
        d = now.get(key, 0.0) - before.get(key, 0.0)
        if abs(d) >= 0.005:
            parts.append(f"{'+' if d > 0 else '-'}{fmt(abs(d), 3)} {name(key)}")
    return ", ".join(parts) if parts else "no call's units moved"


def _phase_delta(phase: SopPhase, before: Mapping[tuple[str, str], tuple[float, float]], read: bool) -> str:
    n = max(phase.n, 1)
    idx = 0 if read else 1
    now = {" ".join(k): v[idx] / n for k, v in units_by_call(phase.ddb).items()}
    was = {" ".join(k): v[idx] for k, v in before.items()}

    def name(key: str) -> str:
        op, item = key.split(" ", 1)
        return f"{op} `{item}` ({ENGINE_CALLS.get((op, item), 'unlabelled')})"

    return _delta(now, was, name)


def rows(report: Report, summaries: Mapping[str, Summary]) -> list[Row]:
    """The headline figures, previous run and this one, with the calls whose units moved."""
    out: list[Row] = []
    for key, label in (
        ("new", "New customer callback: billed units, write + read (mean)"),
        ("duplicate", "Duplicate delivery: billed units (mean)"),
        ("new_nocache", "New customer, tenant cache off: billed units (mean)"),
        ("duplicate_nocache", "Duplicate delivery, tenant cache off: billed units (mean)"),
    ):
        s = summaries.get(key)
        ops_before = CALLBACK_BEFORE[key]
        out.append(
            Row(
                label,
                sum(ops_before.values()),
                s.billed_total["mean"] if s else None,
                3,
                _delta(s.ddb_units, ops_before, lambda op: op) if s else "not run",
            )
        )
    if report.imports is not None and report.imports.seconds:
        median_ms = stats.median(report.imports.seconds) * 1000
        out.append(Row("`import app`, cold (median, ms)", 194, median_ms, 0, "see *Cold import of app.py*"))
    sop = report.sop
    if sop is not None:
        # (phase, figure, by-call units, WCU, RCU, wall s per 1,000, DynamoDB calls per unit) of the baseline
        for phase, what, before, was_w, was_r, was_s, was_calls in (
            (sop.enroll, "SOP enrollment, per enrollment", ENROLL_BEFORE, 2.0, 1.0, 11.14, 4.0002),
            (sop.fire, "SOP fire, per touch", FIRE_BEFORE, 2.027, 2.601, 11.09, 3.0271),
            *(
                [(sop.bulk.phase, "Bulk enrollment job, per customer", BULK_BEFORE, 2.021, 1.625, 7.94, 2.051)]
                if sop.bulk is not None
                else []
            ),
        ):
            per, n = phase.per_unit, max(phase.n, 1)
            calls = (
                f"DynamoDB calls {fmt(len(phase.ddb) / n, 3)} each, were {fmt(was_calls, 3)}; and the machine's load"
            )
            out.append(Row(f"{what}: billed WCU", was_w, per.billed_write, 3, _phase_delta(phase, before, False)))
            out.append(Row(f"{what}: billed RCU", was_r, per.billed_read, 3, _phase_delta(phase, before, True)))
            out.append(Row(f"{what}: wall s per 1,000", was_s, phase.per_thousand_s, 2, calls))
    return out


def enrollment_writes(phase: SopPhase) -> str:
    """One sentence per write an enrollment makes, with its measured units."""
    n = max(phase.n, 1)
    writes = {k: w / n for k, (_r, w) in units_by_call(phase.ddb).items() if w / n >= 0.005}
    parts = [
        f"{fmt(w, 3)} {ENROLL_WRITE_WHY.get(k) or ENGINE_CALLS.get(k) or 'unlabelled ' + ' '.join(k)}"
        for k, w in sorted(writes.items(), key=lambda kv: -kv[1])
    ]
    return "; ".join(parts)


def render_changes(report: Report, summaries: Mapping[str, Summary]) -> list[str]:
    """The section: a table of figures then and now, and the enrollment's writes in words."""
    table = rows(report, summaries)
    if not table:
        return []
    lines = [
        "## Since the previous full run",
        "",
        f"The previous full run is `git show {BASELINE_COMMIT}:docs/performance.md` ({BASELINE_DATE}, same "
        f"command, same machine class); this run: `{report.command}`. Units and call counts are exact and "
        "comparable; wall times and milliseconds move with the shared machine's load. *Why* lists each call whose "
        "billed units per delivery, enrollment, touch or customer moved (new calls included), computed from both "
        "runs' by-call tables.",
        "",
        "| figure | previous | this run | why |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.figure} | {fmt(r.before, r.digits)} | {fmt(r.now, r.digits)} | {r.why} |" for r in table]
    new, dup = summaries.get("new"), summaries.get("duplicate")
    if new is not None and dup is not None:
        lines += [
            "",
            f"**The callback** (`{report.command}`, {new.n} deliveries each): a new customer "
            f"{fmt(new.billed_write['mean'], 3)} billed WCU and {fmt(new.billed_read['mean'], 3)} RCU per delivery "
            f"(mean; were 4 and 3.5), a duplicate delivery {fmt(dup.billed_total['mean'], 3)} unit(s) (was 1) and "
            f"{dup.wecom_total} WeCom calls over {dup.n} (was 0). The WeCom events a callback applies (adds, losses, "
            "re-adds) reach the customer's timeline with no write of their own"
            + (", so the timeline added nothing here." if new.billed_write["mean"] <= 4 else ".")
            + " The strongly consistent tenant read is on the token path (admin API), not the callback's.",
        ]
    if report.imports is not None and report.imports.seconds:
        runs = report.imports.seconds
        lines += [
            "",
            f"**`import app`, cold**: median {fmt(stats.median(runs) * 1000, 0)} ms over {len(runs)} fresh "
            f"interpreters (`{report.import_command}`), was 194 ms; the top modules are under *Cold import of app.py*.",
        ]
    sop = report.sop
    if sop is not None:
        fire = sop.fire.per_unit
        lines += [
            "",
            f"**The fire** (`{report.command}`, {sop.fire.n} touches): {fmt(fire.billed_write, 3)} billed WCU per "
            f"touch (was 2.027): the claim (`move_touch`), the quota write (`take_quota`, which now also records the "
            "sent touch on the timeline in the same UpdateItem) and the staff tasks; see *Fire writes per touch*.",
        ]
        per = sop.enroll.per_unit
        lines += [
            "",
            f"**An enrollment's writes**, billed (`{report.command}`, {sop.enroll.n} enrollments): "
            f"{fmt(per.billed_write, 3)} WCU per enrollment, was {fmt(2.0)} (the enrollment put and its first touch). "
            f"By call: {enrollment_writes(sop.enroll)}. The stage write happens once per customer (only a `new` "
            "customer moves), so a customer's later enrollments, and the bulk job's above (its customers are "
            "already `nurturing`), do without it.",
        ]
    lines.append("")
    return lines
