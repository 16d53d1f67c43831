"""The contact sync: every staff member's existing WeCom contacts imported, and each day's reconcile of drift, as a
resumable job with progress (the console's 任务进度; docs/contact-sync.md).

One job walks WeCom in saved steps: the staff with the customer-contact permission (``get_follow_user_list``), then
their contacts, 100 staff a batch and 100 relations a page (``batch/get_by_user``, by WeCom's cursor), each relation
applied by services/contact_import.py, then a sweep for relations Siyu holds that WeCom no longer lists. Each step is
saved with a condition on the step it started from (``seq``, the JobRepo's conditional put): two workers never both
advance it, and a job that dies resumes at the last saved page; the page it was on runs again and changes nothing
twice (a relation is applied effectively once). Running the whole sync twice changes nothing.

WeCom's rate limits (45009 frequency, 45033 concurrency) stop the slice: the job records ``retry_at`` (60 s, doubled
per consecutive refusal up to WeCom's 60-minute block) and waits; the backstop resumes it then.

The tenant's first sync (id ``cs_first``, created once) is the baseline: relations created after it started are
adds Siyu missed (it was down), which go through intake. After it, the backstop runs a reconcile once a day (id
``cs_day<local date>``, created once per day); ``POST /t/{tenant}/contact-syncs`` runs one on demand.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain import jobs
from chalicelib.domain.contact_events import DEL_EXTERNAL, DEL_FOLLOW, ContactEvent
from chalicelib.domain.instants import iso_of, local_date
from chalicelib.domain.tags import adopt_corp_tags
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, SiyuError, WeComError, WeComRateLimitError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, CustomerFilter, IdGenerator, Page, TagRepository, WeComPort
from chalicelib.ports.contacts import ContactListPort
from chalicelib.services.contact_import import ASSIGNED_ADD_WAYS, ContactImport, Walk
from chalicelib.services.identities import credentials
from chalicelib.services.intake import BY_TRANSFER, IntakeResult

KIND = jobs.CONTACT_SYNC
FIRST_ID = jobs.CONTACT_SYNC_PREFIX + "first"
BATCH_USERS = 100  # userid_list per batch/get_by_user call (WeCom's maximum)
PAGE_LIMIT = 100  # relations per page (WeCom's maximum): a page is one saved step
SLICE_SECONDS = 5.0  # work per API call; the backstop continues the rest
SYNC_EVERY_SECONDS = 86_400  # the daily reconcile
BACKOFF_SECONDS, BACKOFF_MAX_SECONDS = 60, 3_600  # WeCom blocks a caller 60 s or 60 min (page 90454)
SWEEP_PAGE = 500  # customers per sweep step (the listing reads their profiles)
RECENT = 50  # jobs of the log read for the latest runs
FIRST, PERIODIC, MANUAL = "first", "periodic", "manual"
RUNNING, DONE = jobs.RUNNING, jobs.DONE
STAFF, CONTACTS, SWEEP, VERIFY = "staff", "contacts", "sweep", "verify"
NOT_A_CONTACT = 84061
COUNTS = tuple(key for key, _ in jobs.CONTACT_SYNC_COUNTS)  # the job's counts by kind


class SyncRepo(TagRepository, Protocol):
    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool: ...
    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...
    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]: ...
    def recent_jobs(self, tenant_id: str, *, limit: int) -> list[tuple[str, dict[str, Any]]]: ...
    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page: ...


class ContactSync:
    def __init__(
        self,
        repo: SyncRepo,
        source: ContactListPort,
        wecom: WeComPort,
        importer: ContactImport,
        intake: Callable[[Tenant, ContactEvent], IntakeResult],
        clock: Clock,
        ids: IdGenerator,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.source = source  # get_follow_user_list, batch/get_by_user
        self.wecom = wecom  # externalcontact/get: the sweep's check of one relation
        self.importer = importer
        self.intake = intake  # a relation WeCom no longer lists ends as a del_follow_user callback would end it
        self.clock = clock
        self.ids = ids
        self.monotonic = monotonic  # elapsed time for slices, never the time of day

    # --- starting ---------------------------------------------------------------------------------------------

    def claim(self, tenant: Tenant, reason: str = MANUAL) -> dict[str, Any]:
        """The tenant's running contact sync, else a new one: the first sync if the tenant never had one (whatever
        was asked), else a reconcile. A periodic one has its day's id, so one day never gets two."""
        tid = tenant.tenant_id
        running = self._running(tid)
        if running is not None:
            return running
        now = self.clock.now()
        first = self.repo.get_job(tid, FIRST_ID)
        if first is None:
            job_id, reason = FIRST_ID, FIRST
        elif reason == PERIODIC:
            job_id = f"{jobs.CONTACT_SYNC_PREFIX}day{local_date(int(now.timestamp()), tenant.zone).replace('-', '')}"
        else:
            job_id = self.ids.new_id(jobs.CONTACT_SYNC_PREFIX)
        started = int(now.timestamp())
        job: dict[str, Any] = {
            "job_id": job_id,
            "kind": KIND,
            "reason": reason,
            "status": RUNNING,
            "seq": 0,
            "phase": STAFF,
            "baseline": started if first is None else int(first["started"]),
            "staff": [],
            "batch": 0,
            "cursor": "",
            "sweep_cursor": None,
            "listed": {},
            "held": {},
            "short": [],
            "pages": 0,
            "seen": 0,
            "counts": dict.fromkeys(COUNTS, 0),
            "retry_at": None,
            "waiting": False,
            "backoffs": 0,
            "started": started,
            "started_at": iso_of(now, tenant.zone),
            "updated_at": iso_of(now, tenant.zone),
        }
        if self.repo.put_job(tid, job, create=True):
            return job
        return self._running(tid) or self.status(tid, job_id)  # a concurrent start won: take its job

    def first_sync(self, tenant: Tenant) -> dict[str, Any]:
        """A newly connected tenant's import: the job only (no WeCom call while the tenant is being created); the
        backstop runs it within minutes, ``POST …/contact-syncs`` at once."""
        return self.claim(tenant, FIRST)

    def start(self, tenant: Tenant) -> dict[str, Any]:
        """Start a sync (the first, or a reconcile; or take the running one) and run a first slice of it."""
        job = self.claim(tenant, MANUAL)
        try:
            return self.advance(tenant, job["job_id"], budget_seconds=SLICE_SECONDS)
        except SiyuError as exc:  # WeCom failed: the job stands at its last page, the backstop resumes it
            logger.warning("contact sync slice failed", extra={"tenant": tenant.tenant_id, "code": exc.code})
            return dict(self.status(tenant.tenant_id, job["job_id"]), last_error=exc.code)

    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        job = self.repo.get_job(tenant_id, job_id) if job_id.startswith(jobs.CONTACT_SYNC_PREFIX) else None
        if job is None or job.get("kind") != KIND:
            raise NotFoundError(f"contact sync {job_id} does not exist")
        return job

    def recent(self, tenant_id: str) -> list[dict[str, Any]]:
        """The latest runs, newest first (from the tenant's job log: its last ``RECENT`` jobs of any kind)."""
        return [j for _, j in self.repo.recent_jobs(tenant_id, limit=RECENT) if j.get("kind") == KIND]

    # --- running ----------------------------------------------------------------------------------------------

    def advance(self, tenant: Tenant, job_id: str, *, budget_seconds: float) -> dict[str, Any]:
        """Steps until the job is done, waits for WeCom's rate limit, or the budget is spent; the job as it stands.
        Any other WeCom failure leaves the job at its last saved step and is raised."""
        tid = tenant.tenant_id
        deadline = self.monotonic() + budget_seconds
        job = self.status(tid, job_id)
        if job["status"] == RUNNING and job.get("retry_at") and self._now() < int(job["retry_at"]):
            return job  # still blocked by WeCom
        walk = Walk(baseline=int(job["baseline"]), by_wecom=self._by_wecom(tid))
        while job["status"] == RUNNING and self.monotonic() < deadline:
            try:
                advanced = self._step(tenant, job, walk)
            except WeComRateLimitError as exc:
                waiting = self._wait(tenant, job, exc)
                return waiting if self.repo.put_job(tid, waiting) else self.status(tid, job_id)
            if not self.repo.put_job(tid, advanced):
                return self.status(tid, job_id)  # another worker advanced it
            job = advanced
        if job["status"] == DONE:
            count("ContactSync.done")
            logger.info("contact sync done", extra={"tenant": tid, "job_id": job_id, "counts": job["counts"]})
        return job

    def tick(self, tenant: Tenant, *, budget_seconds: float) -> dict[str, int]:
        """The backstop's share: continue the running sync; start the first one of a tenant that has none (one
        connected before the contact sync existed: connecting starts it now); once a day after it, a reconcile."""
        tid = tenant.tenant_id
        current = self._running(tid)
        if current is None:
            first = self.repo.get_job(tid, FIRST_ID)
            if first is None:
                current = self.claim(tenant, FIRST)
            elif self._now() - int(first["started"]) < SYNC_EVERY_SECONDS:
                return {"contact_syncs": 0}  # its first run is younger than a day
            else:
                today = f"{jobs.CONTACT_SYNC_PREFIX}day{local_date(self._now(), tenant.zone).replace('-', '')}"
                if self.repo.get_job(tid, today) is not None:
                    return {"contact_syncs": 0}
                current = self.claim(tenant, PERIODIC)
        job = self.advance(tenant, current["job_id"], budget_seconds=budget_seconds)
        return {"contact_syncs": 1, "contacts_synced": int(job["seen"]) - int(current["seen"])}

    def _step(self, tenant: Tenant, job: dict[str, Any], walk: Walk) -> dict[str, Any]:
        phase = job["phase"]
        if phase == STAFF:
            imported = self._import_tags(tenant)
            if imported:
                walk.by_wecom = self._by_wecom(tenant.tenant_id)
            staff = sorted(set(self.source.get_follow_user_list(credentials(tenant))))
            counts = dict(job["counts"], tags_imported=int(job["counts"].get("tags_imported", 0)) + imported)
            return self._next(tenant, job, staff=staff, phase=CONTACTS if staff else SWEEP, counts=counts)
        if phase == CONTACTS:
            return self._page(tenant, job, walk)
        if phase == SWEEP:
            return self._sweep(tenant, job)
        return self._verify(tenant, job)

    def _page(self, tenant: Tenant, job: dict[str, Any], walk: Walk) -> dict[str, Any]:
        """One page of one batch of staff: each relation applied; the last page of the last batch: the sweep."""
        staff: list[str] = job["staff"]
        batch = int(job["batch"])
        userids = staff[batch * BATCH_USERS : (batch + 1) * BATCH_USERS]
        page = self.source.batch_get_by_user(
            credentials(tenant), userids=userids, cursor=job["cursor"], limit=PAGE_LIMIT
        )
        counts = dict(job["counts"])
        listed = dict(job["listed"])
        for contact in page.contacts:
            userid = contact.follow_users[0].userid if contact.follow_users else ""
            listed[userid] = listed.get(userid, 0) + 1
            try:
                outcome = self.importer.apply(tenant, contact, walk)
            except WeComRateLimitError:
                raise
            except SiyuError as exc:  # one relation that cannot be applied does not hold up the others
                logger.warning("contact sync relation failed", extra={"tenant": tenant.tenant_id, "code": exc.code})
                outcome = "errors"
            counts[outcome] = counts.get(outcome, 0) + 1
        more = bool(page.next_cursor)
        nxt_batch = batch if more else batch + 1
        last = not more and nxt_batch * BATCH_USERS >= len(staff)
        return self._next(
            tenant,
            job,
            cursor=page.next_cursor if more else "",
            batch=nxt_batch,
            phase=SWEEP if last else CONTACTS,
            pages=int(job["pages"]) + 1,
            seen=int(job["seen"]) + len(page.contacts),
            counts=counts,
            listed=listed,
        )

    def _sweep(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
        """One page of the customers Siyu holds (all of them, one pass): their active relations counted per staff
        member. After the last page, a staff member holding more than WeCom listed has lost some: the verify pass
        reads those relations; with no such staff member the job is done."""
        page = self.repo.list_customers(
            tenant.tenant_id, CustomerFilter(), cursor=job.get("sweep_cursor"), limit=SWEEP_PAGE
        )
        held = dict(job.get("held") or {})
        listed = set(job["listed"]) | set(job["staff"])
        for customer in page.items:
            for rel in customer.relations:
                if rel.state == "active" and rel.userid in listed:
                    held[rel.userid] = held.get(rel.userid, 0) + 1
        if page.next_cursor:
            return self._next(tenant, job, held=held, sweep_cursor=page.next_cursor)
        short = sorted(u for u, n in held.items() if n > int(job["listed"].get(u, 0)))
        return self._next(
            tenant, job, held=held, short=short, sweep_cursor=None, phase=VERIFY, status=RUNNING if short else DONE
        )

    def _verify(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
        """One page of the customers again, for the staff members holding more than WeCom listed: each of their
        active relations is checked with externalcontact/get, and one WeCom no longer has ends as a lost callback
        (del_follow_user, dated when this sync started) would end it. The last page finishes the job."""
        page = self.repo.list_customers(
            tenant.tenant_id, CustomerFilter(), cursor=job.get("sweep_cursor"), limit=SWEEP_PAGE
        )
        short = set(job.get("short") or [])
        counts = dict(job["counts"])
        for customer in page.items:
            for rel in customer.relations:
                if rel.state != "active" or rel.userid not in short:
                    continue
                listed, assigned = self._still_listed(tenant, rel.userid, rel.external_userid)
                if listed:
                    continue
                # Gone from this staff member: to a colleague the corp assigned them to (a hand-over done in WeCom:
                # its DELETE_BY_TRANSFER callback was lost), or lost (a del_follow_user callback was lost).
                ev = ContactEvent(
                    "change_external_contact",
                    DEL_EXTERNAL if assigned else DEL_FOLLOW,
                    rel.userid,
                    rel.external_userid,
                    int(job["started"]),
                    source=BY_TRANSFER if assigned else "",
                )
                outcome = self.intake(tenant, ev).outcome
                if outcome in ("lost", "transferred"):
                    counts[outcome] = counts.get(outcome, 0) + 1
        more = bool(page.next_cursor)
        status = RUNNING if more else DONE
        return self._next(tenant, job, counts=counts, sweep_cursor=page.next_cursor if more else None, status=status)

    def _still_listed(self, tenant: Tenant, userid: str, external_userid: str) -> tuple[bool, bool]:
        """Whether ``userid`` still follows the contact, and whether a colleague the corp assigned follows them."""
        try:
            profile = self.wecom.get_external_contact(credentials(tenant), external_userid)
        except WeComRateLimitError:
            raise
        except WeComError as exc:
            return exc.errcode != NOT_A_CONTACT, False  # 84061: no relation left with anyone; anything else: keep it
        listed = any(f.userid == userid for f in profile.follow_users)
        return listed, any(f.userid != userid and f.add_way in ASSIGNED_ADD_WAYS for f in profile.follow_users)

    def _wait(self, tenant: Tenant, job: dict[str, Any], exc: WeComRateLimitError) -> dict[str, Any]:
        backoffs = int(job.get("backoffs", 0))
        delay = min(BACKOFF_SECONDS * 2**backoffs, BACKOFF_MAX_SECONDS)
        logger.warning(
            "contact sync waits for WeCom's rate limit",
            extra={"tenant": tenant.tenant_id, "errcode": exc.errcode, "delay": delay},
        )
        count("ContactSync.rate_limited")
        return dict(
            job,
            seq=int(job["seq"]) + 1,
            retry_at=self._now() + delay,
            waiting=True,
            backoffs=backoffs + 1,
            updated_at=iso_of(self.clock.now(), tenant.zone),
        )

    def _next(self, tenant: Tenant, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return dict(
            job,
            **changes,
            seq=int(job["seq"]) + 1,
            retry_at=None,
            waiting=False,
            backoffs=0,
            updated_at=iso_of(self.clock.now(), tenant.zone),
        )

    def _running(self, tenant_id: str) -> dict[str, Any] | None:
        running = [j for j in self.repo.running_jobs(tenant_id) if j.get("kind") == KIND]
        return min(running, key=lambda j: (j.get("started", 0), j["job_id"])) if running else None

    def _import_tags(self, tenant: Tenant) -> int:
        """The corp's WeCom tags Siyu does not know (made in WeCom, not through Siyu) added to its taxonomy, so the
        relations' tag ids map (domain/tags.py ``adopt_corp_tags``); how many. Ids derive from WeCom's: a step run
        again after a crash, or by a racing worker, finds them known or writes the same groups."""
        corp = [(g.group_id, g.group_name, g.tags) for g in self.wecom.get_corp_tag_list(credentials(tenant))]
        groups, adopted = adopt_corp_tags(
            self.repo.taxonomy(tenant.tenant_id),
            corp,
            group_id_of=lambda w: "tg_" + _hash("corp_tag_group:" + w),
            tag_id_of=lambda w: "t_" + _hash("corp_tag:" + w),
            created_at=self.clock.now().isoformat(timespec="seconds"),
        )
        for group in groups:
            self.repo.put_tag_group(tenant.tenant_id, group)
        if adopted:
            logger.info("contact sync imported WeCom tags", extra={"tenant": tenant.tenant_id, "tags": adopted})
        return adopted

    def _by_wecom(self, tenant_id: str) -> dict[str, str]:
        taxonomy = self.repo.taxonomy(tenant_id)
        return {t.wecom_id: t.tag_id for g in taxonomy.groups for t in g.tags if t.wecom_id}

    def _now(self) -> int:
        return int(self.clock.now().timestamp())


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def contact_sync_of(svc: Any) -> ContactSync:
    """The contact sync the services were wired with (chalicelib/wiring.py: connecting a tenant starts it too)."""
    sync: ContactSync | None = svc.contact_sync
    if sync is None:
        raise NotFoundError("the contact sync is not wired")
    return sync
