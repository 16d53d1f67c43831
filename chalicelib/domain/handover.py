"""客户交接 (在职继承 / 离职继承): which customers a hand-over moves, each customer's state in it, and what the takeover
does to a customer. Pure: no clock, no storage, no WeCom.

A hand-over is a job (services/handover.py) that keeps one small record per customer, keyed by customer id::

    queued → calling → waiting → taken_over | refused | limit_exceeded
                     ↘ rejected (WeCom refused the transfer call for this customer: its errcode is kept)
    skipped (never sent to WeCom: the reason says why)

``calling`` is written before the WeCom call and resolved after it, so a run that dies between the two asks WeCom
(transfer_result) what it holds before calling again: a customer is never handed over twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.customers import RECENT_EVENT_KEYS, Customer, Relation, Stage
from chalicelib.domain.staff import Staff
from chalicelib.domain.timeline import follow_up_task_id
from chalicelib.errors import InvalidError

HANDOVER, HANDOVER_PREFIX = "handover", "ho_"
TRANSFER, RESIGNED = "transfer", "resigned"  # 在职继承, 离职继承
MODES = (TRANSFER, RESIGNED)
BATCH = 100  # customers per WeCom transfer call
MAX_CUSTOMERS = 5000  # per hand-over: the job keeps one record per customer in one item
MAX_SUCCESS_MSG = 200

QUEUED, CALLING, WAITING = "queued", "calling", "waiting"
TAKEN_OVER, REFUSED, LIMIT_EXCEEDED, REJECTED, SKIPPED = (
    "taken_over",
    "refused",
    "limit_exceeded",
    "rejected",
    "skipped",
)
NO_RECORD, EXPIRED = "no_record", "expired"  # WeCom lost the hand-over (5); still waiting after FOLLOW_DAYS
FINAL = frozenset({TAKEN_OVER, REFUSED, LIMIT_EXCEEDED, REJECTED, SKIPPED, NO_RECORD, EXPIRED})
FOLLOW_DAYS = 7  # WeCom settles a hand-over in 24 h: a week of polling is the bound
STATE_LABELS = {
    QUEUED: "待转接",
    CALLING: "转接中",
    WAITING: "等待接替",
    TAKEN_OVER: "接替完毕",
    REFUSED: "客户拒绝",
    LIMIT_EXCEEDED: "接替成员客户达到上限",
    REJECTED: "企业微信拒绝",
    SKIPPED: "未转接",
    NO_RECORD: "企业微信无接替记录",
    EXPIRED: "超时未完成",
}
# transfer_result's status → the customer's state (while ``calling``, 5 or no row means the call never reached WeCom:
# the customer is queued again instead)
BY_STATUS = {1: TAKEN_OVER, 2: WAITING, 3: REFUSED, 4: LIMIT_EXCEEDED, 5: NO_RECORD}
# the transfer_fail callback's FailReason → the customer's state
BY_FAIL_REASON = {"customer_refused": REFUSED, "customer_limit_exceed": LIMIT_EXCEEDED}
SKIP_REASONS = {
    "not_owner": "客户不属于原跟进成员",
    "no_relation": "原跟进成员与客户已无好友关系",
    "lost": "客户已流失",
    "same_staff": "接替成员就是原跟进成员",
    "erased": "客户资料已删除",
}
ERRCODE_LABELS = {40128: "90 天内转接过于频繁", 40129: "客户正在转接中", 84061: "非该成员的客户", 40097: "成员尚未离职"}
OPEN_TASK_STATUSES = ("claimed", "retrying", "created", "snoozed")  # a staff task that may still send
MOMENT = "moment"  # a Moments post (朋友圈): never reissued as a 1:1 message


@dataclass(frozen=True)
class Request:
    """What a hand-over is asked to do: from ``handover_userid`` to ``takeover_userid``, chosen by ``filter``."""

    mode: str
    handover_userid: str
    takeover_userid: str
    filter: dict[str, str]
    success_msg: str = ""


def request_of(body: dict[str, Any]) -> Request:
    """The request in an API body or a console form (InvalidError for anything wrong)."""
    mode = str(body.get("mode") or TRANSFER)
    if mode not in MODES:
        raise InvalidError(f"mode must be one of {', '.join(MODES)}")
    handover, takeover = body.get("handover_userid"), body.get("takeover_userid")
    if not isinstance(handover, str) or not handover or not isinstance(takeover, str) or not takeover:
        raise InvalidError("handover_userid and takeover_userid are required")
    if handover == takeover:
        raise InvalidError("takeover_userid must differ from handover_userid", code="invalid")
    flt = body.get("filter") or {}
    if not isinstance(flt, dict) or not all(isinstance(v, str) for v in flt.values()):
        raise InvalidError("filter must be an object of strings (tag, stage, channel, added_from, added_to)")
    if "owner" in flt:
        raise InvalidError("filter.owner is the handover staff member: leave it out")
    msg = body.get("success_msg") or ""
    if not isinstance(msg, str) or len(msg) > MAX_SUCCESS_MSG:
        raise InvalidError(f"success_msg must be text of at most {MAX_SUCCESS_MSG} characters")
    if msg and mode == RESIGNED:
        raise InvalidError("success_msg is sent only by a transfer while employed (mode transfer)")
    return Request(mode, handover, takeover, {str(k): v for k, v in flt.items()}, msg)


def check_staff(req: Request, handover: Staff | None, takeover: Staff | None, *, held_by_wecom: bool) -> None:
    """InvalidError (code ``invalid``, naming the field) unless both sides are staff a hand-over can name.

    The takeover staff member must be one of the tenant's staff and active: the customers and their tasks become
    theirs. The handover staff member must be one of the tenant's staff (active or not: one paused in Siyu may
    still be employed); for 离职继承 one Siyu no longer lists is accepted when WeCom holds their customers for a new
    owner (``held_by_wecom``: they are on get_unassigned_list), since an admin often removes a member who left."""
    if handover is None and not (req.mode == RESIGNED and held_by_wecom):
        where = " nor on WeCom's list of resigned staff with customers to assign" if req.mode == RESIGNED else ""
        raise InvalidError(
            f"handover_userid {req.handover_userid!r} is not one of the tenant's staff{where}", code="invalid"
        )
    if takeover is None:
        raise InvalidError(f"takeover_userid {req.takeover_userid!r} is not one of the tenant's staff", code="invalid")
    if not takeover.active:
        raise InvalidError(
            f"takeover_userid {req.takeover_userid!r} is not active: an inactive staff member takes no customers",
            code="invalid",
        )


def skip_reason(customer: Customer, req: Request) -> str | None:
    """Why ``customer`` cannot be handed over by ``req`` (None: it can)."""
    if customer.owner_userid != req.handover_userid:
        return "not_owner"
    if customer.stage == Stage.LOST:
        return "lost"
    if customer.relation(req.handover_userid, customer.external_userid) is None or not any(
        r.userid == req.handover_userid for r in customer.active_relations
    ):
        return "no_relation"
    return None


def take_over(customer: Customer, *, handover: str, takeover: str, at: str, now: str, digest: str) -> Customer:
    """The customer after WeCom completed the hand-over: the takeover staff member owns them and follows them; the
    old relation ended by transfer (as WeCom's DELETE_BY_TRANSFER says). Stage, tags, plans: unchanged. The
    hand-over's ``digest`` is remembered, so a repeat is known even when something else (the contact sync reading
    the new relation first) already made the takeover staff member the owner."""
    ext = customer.external_userid
    relations = []
    for r in customer.relations:
        if r.userid == handover and r.external_userid == ext and r.state == "active":
            r = replace(r, state="ended", ended_at=at, reason="transfer")
        if r.userid != takeover or r.external_userid != ext:
            relations.append(r)
    relations.append(Relation(takeover, ext, "active", at))
    return replace(
        customer,
        owner_userid=takeover,
        relations=tuple(relations),
        applied=(*customer.applied, digest)[-RECENT_EVENT_KEYS:],
        updated_at=now,
        version=customer.version + 1,
    )


def outcome_digest(job_id: str, state: str) -> str:
    """A hand-over's fact about one customer's final ``state``: one per job and state."""
    return hashlib.sha256(f"handover:{job_id}:{state}".encode()).hexdigest()[:24]


def takeover_digest(job_id: str) -> str:
    """What a completed hand-over leaves on its customer (Customer.applied): one per job, so a repeat is known."""
    return outcome_digest(job_id, TAKEN_OVER)


def reissued_task_id(job_id: str, task_id: str, customer_id: str) -> str:
    """The new owner's task that reissues the old owner's open task ``task_id`` to the customer: one per hand-over,
    task and customer (erasure finds it from the hand-over's timeline entry)."""
    return follow_up_task_id(f"handover:{job_id}:{task_id}:{customer_id}")


def moments_kept(customers: dict[str, dict[str, Any]]) -> int:
    """The old owner's Moments tasks (朋友圈) that were not reissued to the new owners, over the job's customers."""
    return sum(int(rec.get("moments_kept", 0)) for rec in customers.values())


def counts(customers: dict[str, dict[str, Any]]) -> dict[str, int]:
    """How many customers are in each state."""
    out: dict[str, int] = {}
    for rec in customers.values():
        out[rec["state"]] = out.get(rec["state"], 0) + 1
    return out


def next_batch(customers: dict[str, dict[str, Any]]) -> list[str]:
    """The next ≤ 100 queued customers, in a stable order."""
    return sorted(cid for cid, rec in customers.items() if rec["state"] == QUEUED)[:BATCH]


def waiting(customers: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(cid for cid, rec in customers.items() if rec["state"] == WAITING)


def settled(customers: dict[str, dict[str, Any]]) -> bool:
    """Every customer reached a final state."""
    return all(rec["state"] in FINAL for rec in customers.values())


def public_job(job: dict[str, Any]) -> dict[str, Any]:
    """A hand-over job as the API shows it: its progress and each customer's state (no external ids)."""
    customers = job.get("customers") or {}
    return {
        "job_id": job["job_id"],
        "status": job.get("status"),
        "phase": job.get("phase"),
        "mode": job.get("mode"),
        "handover_userid": job.get("handover_userid"),
        "takeover_userid": job.get("takeover_userid"),
        "filter": job.get("filter") or {},
        "counts": counts(customers),
        "skipped": job.get("skipped") or {},
        "truncated": bool(job.get("truncated")),
        "wecom_calls": int(job.get("calls", 0)),
        "moment_tasks_not_reissued": moments_kept(customers),
        "customers": [
            {
                "customer_id": cid,
                "state": rec["state"],
                "state_label": STATE_LABELS.get(rec["state"], rec["state"]),
                **({"errcode": rec["errcode"]} if "errcode" in rec else {}),
                **({"reason": rec["reason"]} if "reason" in rec else {}),
                **({"moment_tasks_not_reissued": rec["moments_kept"]} if rec.get("moments_kept") else {}),
            }
            for cid, rec in sorted(customers.items())
        ],
        "started_at": job.get("started_at"),
        "updated_at": job.get("updated_at"),
    }
