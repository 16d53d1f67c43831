"""客户交接 (在职继承 / 离职继承) as a resumable job with progress (kind ``handover`` on 任务进度).

Three phases, each step saved by the job's conditional step counter (JobRepo, as bulk enrollment does):

1. ``select``: the handover staff member's customers matching the filter, a page at a time; each is queued or
   skipped with its reason (domain/handover.py).
2. ``call``: ≤ 100 queued customers per WeCom transfer call. The batch is saved as ``calling`` before the call and
   resolved after it; a run that died in between (or met a rate limit, 45009/45033) asks transfer_result which of
   them WeCom holds, so no customer is handed over twice, and calls again only for the others.
3. ``follow``: transfer_result is polled (at most every ``POLL_SECONDS``, from the backstop) until every customer is
   final; the transfer_fail callback (``on_signal``) settles a refusal or a full takeover sooner. A completed
   customer is taken over (handover_effects.py): owner, relation, open tasks moved without a double send.

While a hand-over waits (WeCom's 24 h) nothing moves: the old owner still has the relation, so touches due meanwhile
go to them as before (executor_of reads the owner at fire time). After it, the next touch goes to the new owner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib import errors
from chalicelib.domain import handover as ho
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import iso_of
from chalicelib.domain.signals import Signal
from chalicelib.domain.sop import ACTIVE, Enrollment
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.observability import logger
from chalicelib.ports import Clock, CustomerFilter, IdGenerator, SignalPublisher
from chalicelib.ports.handover import HandoverPort, TransferAnswer
from chalicelib.services.customer_filters import customer_filter
from chalicelib.services.handover_effects import EffectsRepo, HandoverEffects, TaskReissuer
from chalicelib.services.sop.rules import creds_of

SLICE_SECONDS = 5.0  # work per API call; the backstop continues the rest
POLL_SECONDS = 1800  # transfer_result is asked at most this often per hand-over
MAX_RESULT_PAGES = 60  # 5,000 customers at 100 a page, with room
SELECT_PAGE = 100
PREVIEW_ENROLLMENT_READS = 1000  # a dry run stays within a request's time: more customers' enrollments are estimated
TRANSIENT = (errors.WeComRateLimitError, errors.WeComBusyError, errors.WeComTransportError)


class HandoverRepo(EffectsRepo, Protocol):
    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool: ...
    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...
    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]: ...
    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Any: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...


class HandoverService:
    def __init__(
        self,
        repo: HandoverRepo,
        wecom: HandoverPort,
        clock: Clock,
        ids: IdGenerator,
        tasks: TaskReissuer,
        signals: SignalPublisher,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.ids = ids
        self.effects = HandoverEffects(repo, tasks, signals, clock)
        self.monotonic = monotonic  # elapsed time for slices, never the time of day

    # --- preview and start ------------------------------------------------------------------------------------

    def preview(self, tenant: Tenant, req: ho.Request) -> dict[str, Any]:
        """The dry run: who would move, what moves with them, who is skipped and why. Writes nothing."""
        held = self.check_staff(tenant, req)
        chosen, skipped, truncated = self._select_all(tenant, req)
        counted = chosen[:PREVIEW_ENROLLMENT_READS]  # one read per customer: beyond this, an estimate
        enrollments = sum(
            1 for cid in counted for e in self.repo.enrollments_of(tenant.tenant_id, cid) if e.status == ACTIVE
        )
        estimated = len(chosen) > len(counted)
        if estimated:
            enrollments = round(enrollments * len(chosen) / len(counted))
        tasks = self.effects.open_tasks(tenant.tenant_id, req.handover_userid, set(chosen))
        preview: dict[str, Any] = {
            "dry_run": True,
            "mode": req.mode,
            "handover_userid": req.handover_userid,
            "takeover_userid": req.takeover_userid,
            "customers": len(chosen),
            "active_enrollments": enrollments,
            "queued_touches": enrollments,  # each active enrollment holds its next touch (implied touches)
            "open_tasks": len(tasks),
            "open_task_customers": sum(len(set(t.customer_ids) & set(chosen)) for t in tasks),
            "moment_tasks_not_reissued": sum(1 for t in tasks if t.kind == ho.MOMENT),  # counted in open_tasks
            "skipped": skipped,
            "truncated": truncated,
            "estimated": estimated,  # enrollments counted on the first PREVIEW_ENROLLMENT_READS customers, scaled
            "wecom_calls": -(-len(chosen) // ho.BATCH),
        }
        if req.mode == ho.RESIGNED:
            held = self.unassigned(tenant) if held is None else held
            preview["unassigned_in_wecom"] = len(held.get(req.handover_userid, []))
        return preview

    def start(self, tenant: Tenant, req: ho.Request) -> dict[str, Any]:
        """Create the job and run its first slice (the backstop runs the rest)."""
        customer_filter(req.filter, tenant.zone)  # a bad filter is refused before anything is stored
        self.check_staff(tenant, req)
        now = iso_of(self.clock.now(), tenant.zone)
        job: dict[str, Any] = {
            "job_id": self.ids.new_id(ho.HANDOVER_PREFIX),
            "kind": ho.HANDOVER,
            "mode": req.mode,
            "handover_userid": req.handover_userid,
            "takeover_userid": req.takeover_userid,
            "filter": dict(req.filter),
            "success_msg": req.success_msg,
            "phase": "select",
            "cursor": None,
            "customers": {},
            "skipped": {},
            "truncated": False,
            "calls": 0,
            "polled_at": None,
            "seq": 0,
            "status": "running",
            "started_at": now,
            "updated_at": now,
        }
        self.repo.put_job(tenant.tenant_id, job, create=True)
        try:
            return self.advance(tenant, job["job_id"], budget_seconds=SLICE_SECONDS)
        except errors.WeComError as exc:  # the job is stored: the backstop carries it on when WeCom answers
            logger.warning(
                "hand-over's first slice paused by WeCom", extra={"tenant": tenant.tenant_id, "code": exc.code}
            )
            return self.status(tenant.tenant_id, job["job_id"])

    def check_staff(self, tenant: Tenant, req: ho.Request) -> dict[str, list[str]] | None:
        """InvalidError unless both staff members may be named (ho.check_staff): Siyu's staff list, and for a
        离职继承 of a member it no longer lists, WeCom's unassigned list (a read; returned for the preview's count)."""
        tid = tenant.tenant_id
        handover, takeover = (
            self.repo.get_staff(tid, req.handover_userid),
            self.repo.get_staff(tid, req.takeover_userid),
        )
        held = None
        if handover is None and req.mode == ho.RESIGNED and takeover is not None and takeover.active:
            held = self.unassigned(tenant)
        ho.check_staff(req, handover, takeover, held_by_wecom=bool(held and req.handover_userid in held))
        return held

    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        job = self.repo.get_job(tenant_id, job_id)
        if job is None or job.get("kind") != ho.HANDOVER:
            raise NotFoundError(f"hand-over {job_id} does not exist")
        return job

    def unassigned(self, tenant: Tenant) -> dict[str, list[str]]:
        """Resigned staff's customers WeCom holds for a new owner (离职继承), by staff member: external_userids."""
        out: dict[str, list[str]] = {}
        cursor = ""
        for _ in range(MAX_RESULT_PAGES):
            page = self.wecom.unassigned_customers(creds_of(tenant), cursor=cursor)
            for row in page.customers:
                out.setdefault(row.handover_userid, []).append(row.external_userid)
            if page.is_last or not page.next_cursor:
                break
            cursor = page.next_cursor
        return out

    # --- the job ----------------------------------------------------------------------------------------------

    def advance(self, tenant: Tenant, job_id: str, *, budget_seconds: float) -> dict[str, Any]:
        """Run steps until the job is done, waits for WeCom, or the budget is spent; the job as it stands."""
        deadline = self.monotonic() + budget_seconds
        job = self.status(tenant.tenant_id, job_id)
        while job["status"] == "running" and self.monotonic() < deadline:
            step = {"select": self._select_step, "call": self._call_step, "follow": self._follow_step}[job["phase"]]
            nxt = step(tenant, job)
            if nxt is None:  # waiting: for WeCom's next answer (a rate limit) or for the next poll
                return self.status(tenant.tenant_id, job_id)
            if not self._save(tenant, nxt):
                return self.status(tenant.tenant_id, job_id)  # another worker advanced it
            job = self.status(tenant.tenant_id, job_id)
        return job

    def continue_running(self, tenant: Tenant, *, budget_seconds: float) -> int:
        """The backstop's share: advance the tenant's running hand-overs within the budget."""
        jobs = [j for j in self.repo.running_jobs(tenant.tenant_id) if j.get("kind") == ho.HANDOVER]
        for job in jobs:
            try:
                self.advance(tenant, job["job_id"], budget_seconds=budget_seconds / max(len(jobs), 1))
            except errors.WeComError as exc:
                logger.warning("hand-over paused by WeCom", extra={"tenant": tenant.tenant_id, "code": exc.code})
        return len(jobs)

    def _save(self, tenant: Tenant, nxt: dict[str, Any]) -> bool:
        """Save the job's next state, made from the state saved at ``nxt["seq"]`` (conditional on it)."""
        nxt = dict(nxt, seq=nxt["seq"] + 1, updated_at=iso_of(self.clock.now(), tenant.zone))
        return self.repo.put_job(tenant.tenant_id, nxt)

    def _request(self, job: dict[str, Any]) -> ho.Request:
        return ho.Request(
            job["mode"], job["handover_userid"], job["takeover_userid"], job["filter"], job["success_msg"]
        )

    def _select_step(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
        req = self._request(job)
        flt = replace(customer_filter(req.filter, tenant.zone), owner_userid=req.handover_userid)
        page = self.repo.list_customers(tenant.tenant_id, flt, cursor=job["cursor"], limit=SELECT_PAGE)
        customers, skipped = dict(job["customers"]), dict(job["skipped"])
        truncated = job["truncated"]
        for c in page.items:
            if c.customer_id in customers:
                continue
            reason = ho.skip_reason(c, req)
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
            elif len(customers) >= ho.MAX_CUSTOMERS:
                truncated = True
            else:
                customers[c.customer_id] = {"state": ho.QUEUED}  # ids only: no personal data in the job
        done = page.next_cursor is None or truncated
        return dict(
            job,
            customers=customers,
            skipped=skipped,
            truncated=truncated,
            cursor=page.next_cursor,
            phase="call" if done else "select",
        )

    def _call_step(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any] | None:
        customers = {cid: dict(rec) for cid, rec in job["customers"].items()}
        calling = [cid for cid, rec in customers.items() if rec["state"] == ho.CALLING]
        if calling:  # the last batch's answer was lost: ask WeCom what it holds before calling again
            found, exts = self._statuses(tenant, job), self._exts(tenant, calling, customers)
            for cid in calling:
                if cid in exts:
                    took = found.get(exts[cid]) in (1, 2, 3, 4)  # WeCom holds it: never call again for them
                customers[cid]["state"] = ho.WAITING if took else ho.QUEUED
            return dict(job, customers=customers)
        queued = ho.next_batch(customers)
        if not queued:
            return dict(job, phase="follow")
        exts = self._exts(tenant, queued, customers)
        batch = [cid for cid in queued if cid in exts]
        if not batch:
            return dict(job, customers=customers)
        for cid in batch:
            customers[cid]["state"] = ho.CALLING
        marked = dict(job, customers=customers, seq=job["seq"] + 1, updated_at=iso_of(self.clock.now(), tenant.zone))
        if not self.repo.put_job(tenant.tenant_id, marked):
            return None  # another worker holds the job
        try:
            answers = self.wecom.transfer_customers(
                creds_of(tenant),
                handover_userid=job["handover_userid"],
                takeover_userid=job["takeover_userid"],
                external_userids=[exts[cid] for cid in batch],
                resigned=job["mode"] == ho.RESIGNED,
                success_msg=job["success_msg"],
            )
        except TRANSIENT as exc:  # left calling: the next slice asks transfer_result first
            logger.info("hand-over call deferred", extra={"tenant": tenant.tenant_id, "code": exc.code})
            return None
        except errors.WeComError as exc:  # WeCom refused the whole call (e.g. 40097: the staff has not resigned)
            answers = [TransferAnswer(exts[cid], exc.errcode) for cid in batch]
        by_ext = {a.external_userid: a.errcode for a in answers}
        for cid in batch:
            code = by_ext.get(exts[cid])
            if code == 0:
                customers[cid]["state"] = ho.WAITING
            elif code is not None:
                customers[cid].update(state=ho.REJECTED, errcode=code)
        return dict(marked, customers=customers, calls=job["calls"] + 1)

    def _follow_step(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any] | None:
        customers = {cid: dict(rec) for cid, rec in job["customers"].items()}
        if ho.settled(customers):
            return dict(job, status="done")
        now = self.clock.now()
        polled = job.get("polled_at")
        if polled and iso_of(now - timedelta(seconds=POLL_SECONDS), tenant.zone) < polled:
            return None
        found = self._statuses(tenant, job)
        pending = ho.waiting(customers)
        exts = self._exts(tenant, pending, customers)
        expired = now - datetime.fromisoformat(job["started_at"]) > timedelta(days=ho.FOLLOW_DAYS)
        for cid in pending:
            state = ho.BY_STATUS.get(found.get(exts.get(cid, ""), 0))
            if state is None or state == ho.WAITING:
                if expired:  # the bound: a week without an outcome, WeCom's own 24 h long past
                    customers[cid]["state"] = ho.EXPIRED
                continue
            kept = self.effects.settle(tenant, job, cid, state)
            customers[cid]["state"] = state
            if kept:
                customers[cid]["moments_kept"] = kept  # the old owner's Moments tasks: not reissued (1:1 text)
        nxt = dict(job, customers=customers, polled_at=iso_of(now, tenant.zone))
        return dict(nxt, status="done") if ho.settled(customers) else nxt

    def _exts(self, tenant: Tenant, cids: list[str], customers: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The customers' external_userids, read when needed (the job keeps none); one erased meanwhile is skipped
        in ``customers``."""
        found = self.repo.get_customers(tenant.tenant_id, cids)
        for cid in cids:
            if cid not in found:
                customers[cid].update(state=ho.SKIPPED, reason="erased")
        return {cid: c.external_userid for cid, c in found.items()}

    def _statuses(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, int]:
        """transfer_result for the job's two staff members: external_userid → status."""
        found: dict[str, int] = {}
        cursor = ""
        for _ in range(MAX_RESULT_PAGES):
            page = self.wecom.transfer_results(
                creds_of(tenant),
                handover_userid=job["handover_userid"],
                takeover_userid=job["takeover_userid"],
                resigned=job["mode"] == ho.RESIGNED,
                cursor=cursor,
            )
            found.update({row.external_userid: row.status for row in page.customers})
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return found

    def _select_all(self, tenant: Tenant, req: ho.Request) -> tuple[list[str], dict[str, int], bool]:
        flt = replace(customer_filter(req.filter, tenant.zone), owner_userid=req.handover_userid)
        chosen: list[str] = []
        skipped: dict[str, int] = {}
        cursor: str | None = None
        while True:
            page = self.repo.list_customers(tenant.tenant_id, flt, cursor=cursor, limit=SELECT_PAGE)
            for c in page.items:
                reason = ho.skip_reason(c, req)
                if reason is not None:
                    skipped[reason] = skipped.get(reason, 0) + 1
                elif len(chosen) >= ho.MAX_CUSTOMERS:
                    return chosen, skipped, True
                else:
                    chosen.append(c.customer_id)
            cursor = page.next_cursor
            if cursor is None:
                return chosen, skipped, False

    # --- the transfer_fail callback ---------------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        """transfer_fail (intake publishes it once per event): the customer's waiting hand-over ends refused or
        at the takeover staff's limit. A repeat finds the customer final and does nothing."""
        state = ho.BY_FAIL_REASON.get(signal.kind or "")
        if state is None:
            return
        for job in self.repo.running_jobs(tenant.tenant_id):
            if job.get("kind") != ho.HANDOVER or job.get("takeover_userid") != signal.staff:
                continue
            for _ in range(3):
                rec = job["customers"].get(customer_id)
                if rec is None or rec["state"] not in (ho.WAITING, ho.CALLING):
                    break
                self.effects.settle(tenant, job, customer_id, state)
                customers = dict(job["customers"], **{customer_id: dict(rec, state=state)})
                nxt = dict(job, customers=customers)
                if job["phase"] == "follow" and ho.settled(customers):
                    nxt["status"] = "done"
                if self._save(tenant, nxt):
                    break
                job = self.status(tenant.tenant_id, job["job_id"])


def handover_of(svc: Any) -> HandoverService:
    """The hand-over service over the wired services (stateless: building one per call is free)."""
    return HandoverService(svc.store, svc.wecom, svc.clock, svc.ids, svc.staff_tasks, svc.signals)
