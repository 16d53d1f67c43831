"""The member-join bench (issue 10 §9): DynamoDB units, calls and WeCom calls per ``change_external_chat``
add_member callback, and per duplicate delivery of one. Results here; bench/group_joins_report.py renders them.

Setup (not measured): two groups in the sandbox's world, owned by a registered staff member: the first with
``SEEDED`` customers' parents already in it (people who are not customers of the tenant), the second with its owner
only; the tenant connects and its first group sync imports both (``POST …/groups/sync``); a naming template and a
group live code over the first group with the second queued (``POST …/group-codes``), rotating at ``rotate_at``
members. Then ``WARMUP`` joins (not measured), then N joins through the code: each is ``world.group_join`` (the
sandbox's person scanning the code: the callback fields WeCom sends, versions chained), encrypted and signed as WeCom
does (outside the timed section) and POSTed to ``/wecom/{tenant}/callback`` through the app, each followed by a
duplicate delivery of the same callback. The first N/2 fill the first group up to ``rotate_at`` (the last of them
rotates the code: the first group dropped, the second put in its place with ``update_join_way``), the rest go to the
second group. Everything a join sets off is counted: the group re-read (``groupchat/get``: the join way and inviter)
written on the joiner's record alone, the member and history records, and the GROUP_JOINED subscribers (group
facts, the code's rotation).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import CallRecord
from bench.common import ADMIN_TOKEN, SOP_ZONE, BenchError, quiet_stdout
from bench.harness import Sample, sample_of
from bench.meter import count_all_calls

JOIN_TENANT = "joinbench"
JOIN_CORP = "wwjoinbench000001"
JOIN_WECOM = {
    "token": "joinBenchToken3",
    "encoding_aes_key": "J1o2I3n4B5e6N7c8H9k0L1m2N3o4P5q6R7s8T9u0V1w",
    "secret": "join-bench-secret",
}
OWNER = "joinowner"
SEEDED = 374  # members of the first group besides its owner when the tenant connects
WARMUP = 5
MEMBER_LIMIT = 500  # WeCom's, and the highest rotate_at a code takes
ROTATE = "externalcontact/groupchat/update_join_way"


@dataclass(frozen=True)
class JoinSample:
    """One measured delivery, with its DynamoDB calls and the group it went to (``members``: after the join)."""

    sample: Sample
    records: list[CallRecord]
    chat: int  # 1: the first group (seeded), 2: the queued one
    members: int
    rotated: bool


@dataclass
class JoinResults:
    n: int
    seeded: int
    rotate_at: int
    joins: list[JoinSample] = field(default_factory=list)
    duplicates: list[JoinSample] = field(default_factory=list)
    unmetered: int = 0  # DynamoDB calls the audit saw and the meter did not (must be 0)
    rotations: int = 0  # the code's rotations at the end, as the app reports them (must be 1)
    setup_s: float = 0.0


def rotate_at_for(n: int, seeded: int = SEEDED) -> int:
    """The threshold at which the first group rotates after about half the measured joins."""
    return min(MEMBER_LIMIT, 1 + seeded + WARMUP + max(1, n // 2))


def run_group_joins(stack: Any, progress: Callable[[str], None], n: int, *, seeded: int = SEEDED) -> JoinResults:
    started = time.perf_counter()
    world = stack.sandbox.world
    rotate_at = rotate_at_for(n, seeded)
    progress(f"joins: two groups in the sandbox ({seeded + 1} and 1 members), the tenant, its first sync, a code")
    parents = [f"wmjoinseed{i:06d}" for i in range(seeded)]
    first = world.seed_group(JOIN_CORP, owner=OWNER, name="思语教育·考研数学冲刺·3期·01", members=parents)
    second = world.seed_group(JOIN_CORP, owner=OWNER, name="思语教育·考研数学冲刺·3期·02")
    chats = {first["chat_id"]: 1, second["chat_id"]: 2}
    sizes = {first["chat_id"]: seeded + 1, second["chat_id"]: 1}
    with quiet_stdout():
        token = _setup_tenant(stack)
        code = stack.call(
            "POST",
            f"/t/{JOIN_TENANT}/group-codes",
            {
                "name": "考研数学3期-海报",
                "positioning": "考研数学冲刺",
                "cohort": "3",
                "chat_ids": [first["chat_id"]],
                "queue": [second["chat_id"]],
                "rotate_at": rotate_at,
            },
            token,
        )
    results = JoinResults(n=n, seeded=seeded, rotate_at=rotate_at)

    def join(i: int, measured: bool) -> None:
        events = world.group_join(JOIN_CORP, config_id=code["config_id"], external_userid=f"wmjoinbench{i:06d}")
        if len(events) != 1:
            raise BenchError(f"join {i} made {len(events)} callbacks (a room was created?): {events[0]}")
        fields = events[0]
        chat_id = str(fields["ChatId"])
        sizes[chat_id] += 1
        for expect, into in (("applied", results.joins), ("duplicate", results.duplicates)):
            sample, records = deliver(stack, fields, expect)
            if measured:
                rotated = ROTATE in sample.wecom
                into.append(JoinSample(sample, records, chats[chat_id], sizes[chat_id], rotated))

    for i in range(WARMUP):
        join(i, measured=False)
    results.setup_s = time.perf_counter() - started
    progress(f"joins: measuring {n} joins through the code (rotating at {rotate_at}), each with its duplicate")
    with count_all_calls() as audit:
        for i in range(WARMUP, WARMUP + n):
            join(i, measured=True)
    metered = sum(len(s.records) for s in (*results.joins, *results.duplicates))
    results.unmetered = audit.get("dynamodb", 0) - metered
    with quiet_stdout():
        final = stack.call("GET", f"/t/{JOIN_TENANT}/group-codes/{code['code_id']}", token=token)
    results.rotations = int(final.get("rotations", 0))
    if n // 2 >= 1 and (results.rotations != 1 or final.get("chat_ids") != [second["chat_id"]]):
        raise BenchError(f"expected one rotation to the queued group: {final}")
    return results


def deliver(stack: Any, fields: dict[str, Any], expect: str) -> tuple[Sample, list[CallRecord]]:
    """POST one callback to the join tenant's URL and account for it (as ``Stack.deliver`` does), with its calls."""
    stack.attach_meter()
    delivery = stack.encrypt(fields, tenant=JOIN_TENANT, corp=JOIN_CORP, wecom=JOIN_WECOM)
    world = stack.sandbox.world
    wecom_before = len(world.calls())
    mark = stack.meter.mark()
    with quiet_stdout():
        started = time.perf_counter()
        resp = stack.client.http.request("POST", delivery.path, body=delivery.body, headers=delivery.headers)
        latency = time.perf_counter() - started
    records = stack.meter.since(mark)
    outcome = json.loads(resp.body).get("outcome", "?") if resp.status_code == 200 else f"HTTP {resp.status_code}"
    if outcome != expect:
        raise BenchError(f"expected outcome {expect!r}, got {outcome!r}: {resp.body[:500]!r}")
    return sample_of(latency, records, world.calls()[wecom_before:], outcome), records


def _setup_tenant(stack: Any) -> str:
    """The tenant, its admin token, the groups' owner as staff, a naming template, and its first group sync run to
    the end through the API; returns the token."""
    body = {"tenant_id": JOIN_TENANT, "name": "入群压测教育", "corp_id": JOIN_CORP, "wecom": JOIN_WECOM}
    body["timezone"] = SOP_ZONE
    stack.call("POST", "/admin/tenants", body, ADMIN_TOKEN)
    token = str(stack.call("POST", f"/admin/tenants/{JOIN_TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"])
    stack.call("POST", f"/t/{JOIN_TENANT}/staff", {"userid": OWNER, "name": "入群老师"}, token)
    naming = {"institution": "思语教育", "separator": "·", "number_width": 2}
    stack.call("PUT", f"/t/{JOIN_TENANT}/settings/group-naming", naming, token)
    for _ in range(20):
        job = stack.call("POST", f"/t/{JOIN_TENANT}/groups/sync", None, token)
        if job.get("status") == "done":
            return token
    raise BenchError(f"the first group sync did not finish: {job}")
