"""The member-join bench's section of docs/performance.md, its summary line and JSON digest: pure functions of
bench/group_joins.py's results (unit-testable offline). No target: issue 10 §9 asks for the figure, not a limit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench import stats
from bench.common import counts, fmt, table
from bench.group_joins import JoinResults, JoinSample


def _spread(values: Sequence[float]) -> str:
    return f"{fmt(stats.median(values))} / {fmt(stats.mean(values))} / {fmt(max(values))}"


def _row(label: str, samples: Sequence[JoinSample]) -> list[str]:
    caps = [s.sample.capacity for s in samples]
    wecom: Counter[str] = Counter()
    for s in samples:
        wecom.update(s.sample.wecom)
    latency = [s.sample.latency_s * 1000 for s in samples]
    return [
        label,
        str(len(samples)),
        _spread([c.billed_write for c in caps]),
        _spread([c.billed_read for c in caps]),
        f"{fmt(stats.mean([c.write for c in caps]))} / {fmt(stats.mean([c.read for c in caps]))}",
        counts({k: v / len(samples) for k, v in sorted(wecom.items())}),
        fmt(stats.percentile(latency, 50), 1),
    ]


def _sizes(samples: Sequence[JoinSample]) -> str:
    return f"{min(s.members for s in samples)}–{max(s.members for s in samples)}"


def by_call(samples: Sequence[JoinSample]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(operation, item kind) -> (calls, billed WCU, billed RCU) per delivery (means over ``samples``)."""
    out: dict[tuple[str, str], list[float]] = {}
    for s in samples:
        for r in s.records:
            acc = out.setdefault((r.operation, r.item), [0.0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += r.capacity.billed_write
            acc[2] += r.capacity.billed_read
    n = max(len(samples), 1)
    return {key: (c / n, w / n, r / n) for key, (c, w, r) in sorted(out.items())}


def render_group_joins(results: JoinResults, command: str) -> list[str]:
    joins, dups = results.joins, results.duplicates
    if not joins:
        return []
    first = [j for j in joins if j.chat == 1 and not j.rotated]
    second = [j for j in joins if j.chat == 2]
    rotated = [j for j in joins if j.rotated]
    lines = [
        "## Member joins: DynamoDB units per join event (issue 10 §9)",
        "",
        f"{results.n} `change_external_chat` add_member callbacks through a group live code (群活码), each encrypted "
        "and signed as WeCom sends it (the sandbox's `world.group_join`, versions chained) and POSTed to "
        "`/wecom/{tenant}/callback` through the app on DynamoDB Local, each followed by a duplicate delivery of the "
        f"same callback. The code's first group held {results.seeded + 1} members when the tenant connected (its "
        "first group sync imported them; they are not customers of the tenant, nor are the joiners); it rotates "
        f"at {results.rotate_at} members to the queued group, which starts with its owner alone. Everything a join "
        "sets off is counted: the group re-read a join of an external member makes (`groupchat/get`, for the join "
        "way and inviter, written on the joiner's record alone), the member and history records, and the GROUP_JOINED "
        "subscribers (group "
        f"facts, the code's rotation). Billed units as AWS bills them (*Reported vs billed units*). Command: "
        f"`{command}`.",
        "",
    ]
    headers = [
        "deliveries",
        "n",
        "billed WCU median / mean / max",
        "billed RCU median / mean / max",
        "reported WCU / RCU (mean)",
        "WeCom calls per delivery (mean)",
        "latency p50 (ms)",
    ]
    rows = [_row("every join", joins)]
    if first:
        rows.append(_row(f"joins into the first group ({_sizes(first)} members after)", first))
    if rotated:
        rows.append(_row(f"the join that rotated the code ({_sizes(rotated)} members after)", rotated))
    if second:
        rows.append(_row(f"joins into the queued group ({_sizes(second)} members after)", second))
    rows.append(_row("duplicate deliveries", dups))
    lines += table(headers, rows)
    joined, dup = by_call(joins), by_call(dups)
    call_rows = []
    for key in sorted(set(joined) | set(dup)):
        c, w, r = joined.get(key, (0.0, 0.0, 0.0))
        dc, dw, dr = dup.get(key, (0.0, 0.0, 0.0))
        op, item = key
        call_rows.append(
            [f"{op} `{item}`" if item else op, fmt(c, 3), fmt(w, 3), fmt(r, 3), fmt(dc, 3), fmt(dw + dr, 3)]
        )
    lines += [
        "",
        "DynamoDB calls by operation and item kind (key shape, docs/data-model.md), per delivery (mean over every "
        "join, and over the duplicates):",
        "",
    ]
    lines += table(
        [
            "operation `item kind`",
            "calls / join",
            "billed WCU / join",
            "billed RCU / join",
            "calls / duplicate",
            "billed units / duplicate",
        ],
        call_rows,
    )
    outcomes = Counter(s.sample.outcome for s in (*joins, *dups))
    tally = ", ".join(f"{k} x{v}" for k, v in sorted(outcomes.items()))
    notes = _notes(results, first, second, rotated)
    lines += ["", f"{notes}Outcomes: {tally}; DynamoDB calls the meter missed: {results.unmetered}.", ""]
    return lines


def _notes(
    results: JoinResults, first: Sequence[JoinSample], second: Sequence[JoinSample], rotated: Sequence[JoinSample]
) -> str:
    """What the figures show, from the figures: the growth with the group's size, and where the rotation fell."""
    out = []
    if first and second:
        big, small = first[-1], second[0]
        per_member = (big.sample.capacity.billed_read - small.sample.capacity.billed_read) / max(
            big.members - small.members, 1
        )
        out.append(
            f"A join's read units grow with the group: {fmt(small.sample.capacity.billed_read)} RCU into a group of "
            f"{small.members}, {fmt(big.sample.capacity.billed_read)} into one of {big.members} (about "
            f"{fmt(per_member, 2)} RCU per member already in the group), because the join's re-read reconciles the "
            "whole group: every member record is read again, and every member not linked to a customer is looked up "
            "again (BatchGetItem `C/PROFILE`, 0.5 RCU per key not found)."
        )
    if rotated:
        at = rotated[0].members
        where = "the join that brought the group to it" if at == results.rotate_at else f"the join to {at} members"
        out.append(
            f"The code rotated once ({results.rotations} rotation{'s' if results.rotations != 1 else ''}, "
            f"`update_join_way` once), on {where} (threshold {results.rotate_at})"
            + (
                ": one join late, because the GROUP_JOINED subscribers read the group's member count before the "
                "join's own count is saved (the member book publishes the signal first)."
                if at == results.rotate_at + 1
                else "."
            )
        )
    return "".join(f"{o} " for o in out)


def group_joins_summary_lines(results: JoinResults) -> list[str]:
    if not results.joins:
        return []
    caps = [s.sample.capacity for s in results.joins]
    dups = [s.sample.capacity for s in results.duplicates]
    return [
        f"group joins ({len(caps)}): billed W {fmt(stats.mean([c.billed_write for c in caps]))} R "
        f"{fmt(stats.mean([c.billed_read for c in caps]))} per join (mean); duplicate: "
        f"{fmt(stats.mean([c.billed_total for c in dups]))} units, "
        f"{sum(sum(s.sample.wecom.values()) for s in results.duplicates)} WeCom calls over {len(dups)}"
    ]


def group_joins_jsonable(results: JoinResults) -> dict[str, Any]:
    def one(s: JoinSample) -> dict[str, Any]:
        return {
            "chat": s.chat,
            "members": s.members,
            "rotated": s.rotated,
            "outcome": s.sample.outcome,
            "latency_s": s.sample.latency_s,
            "wecom": s.sample.wecom,
            "ddb_ops": s.sample.ddb_ops,
            **s.sample.capacity.__dict__,
        }

    return {
        "n": results.n,
        "seeded": results.seeded,
        "rotate_at": results.rotate_at,
        "rotations": results.rotations,
        "unmetered": results.unmetered,
        "joins": [one(s) for s in results.joins],
        "duplicates": [one(s) for s in results.duplicates],
    }
