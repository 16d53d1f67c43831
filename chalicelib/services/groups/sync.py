"""The group sync: every group of a tenant read from WeCom and reconciled, as a resumable job with progress.

One job pages ``groupchat/list`` by WeCom's cursor and reads each group with ``groupchat/get``; what the callbacks
missed becomes history with the scene unknown (services/groups/members.py). A tenant has at most one running sync
(the claim is one conditional write, so two starts at once return the same job). Each page is saved with a
condition on the step it started from (``seq``): two workers never both advance it, and a crash re-runs at most
the page it was on, which changes nothing twice (a reconcile is idempotent).

After the listing, a sweep pages through the groups Siyu holds: an active group the listing did not include is read
on its own, and one WeCom no longer knows is marked dismissed (its dismiss callback was lost).

Progress: ``pages`` and ``groups_seen`` (listed so far), ``changed`` (groups whose state or members it changed; a
page run again after a crash counts the groups it had already settled as unchanged), ``dismissed`` (by the sweep)
and ``errors`` (groups WeCom would not answer, left to the next sync).

It runs as the first sync when a tenant connects (the job is created with the tenant; the backstop runs it), on
``POST /t/{tenant}/groups/sync``, and once a day from the backstop to reconcile drift.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.domain.groups import DISMISSED
from chalicelib.domain.instants import iso_of
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, SiyuError, WeComInvalidArgumentError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, IdGenerator
from chalicelib.services.groups.members import MemberBook
from chalicelib.services.groups.ports import GroupChatSource, GroupStore
from chalicelib.services.identities import credentials

LIST_LIMIT = 100  # groups per groupchat/list page (WeCom allows up to 1,000; a page is one saved step)
SLICE_SECONDS = 5.0  # work per API call; the backstop continues the rest
SYNC_EVERY_SECONDS = 86_400  # the backstop starts a sync when the last one started longer ago than this
FIRST, PERIODIC, MANUAL = "first", "periodic", "manual"
RUNNING, DONE = "running", "done"
LIST, SWEEP = "list", "sweep"  # the job's phases: WeCom's listing, then the groups Siyu holds that it did not list


class GroupSync:
    def __init__(
        self,
        repo: GroupStore,
        source: GroupChatSource,
        book: MemberBook,
        clock: Clock,
        ids: IdGenerator,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.source = source
        self.book = book
        self.clock = clock
        self.ids = ids
        self.monotonic = monotonic  # elapsed time for slices, never the time of day

    def claim(self, tenant: Tenant, reason: str) -> dict[str, Any]:
        """The tenant's running sync: a new one (``reason``: first, periodic, manual) unless one is running."""
        now = self.clock.now()
        job: dict[str, Any] = {
            "job_id": self.ids.new_id("gs_"),
            "reason": reason,
            "status": RUNNING,
            "seq": 0,
            "phase": LIST,
            "cursor": "",
            "sweep_cursor": None,
            "pages": 0,
            "groups_seen": 0,
            "changed": 0,
            "errors": 0,
            "dismissed": 0,
            "started": int(now.timestamp()),
            "started_at": iso_of(now, tenant.zone),
            "updated_at": iso_of(now, tenant.zone),
        }
        return self.repo.claim_group_sync(tenant.tenant_id, job)

    def first_sync(self, tenant: Tenant) -> None:
        """A newly connected tenant's import of its existing groups: the job only (no WeCom call while the tenant
        is being created); the backstop runs it within minutes, ``POST …/groups/sync`` at once."""
        self.claim(tenant, FIRST)

    def start(self, tenant: Tenant) -> dict[str, Any]:
        """Start a sync (or take the running one) and run a first slice of it."""
        job = self.claim(tenant, MANUAL)
        try:
            return self.advance(tenant, job["job_id"], budget_seconds=SLICE_SECONDS)
        except SiyuError as exc:  # WeCom refused the list: the job stands, the backstop resumes it
            logger.warning("group sync slice failed", extra={"tenant": tenant.tenant_id, "code": exc.code})
            return dict(self.status(tenant.tenant_id, job["job_id"]), last_error=exc.code)

    def status(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        job = self.repo.get_group_sync(tenant_id, job_id)
        if job is None:
            raise NotFoundError(f"group sync {job_id} does not exist")
        return job

    def advance(self, tenant: Tenant, job_id: str, *, budget_seconds: float) -> dict[str, Any]:
        """Steps until the job is done or the budget is spent; returns the job as it stands. WeCom failing on the
        list leaves the job where it was (the next run resumes from its cursor)."""
        deadline = self.monotonic() + budget_seconds
        job = self.status(tenant.tenant_id, job_id)
        while job["status"] == RUNNING and self.monotonic() < deadline:
            advanced = self._sweep(tenant, job) if job.get("phase") == SWEEP else self._list(tenant, job)
            if not self.repo.save_group_sync(tenant.tenant_id, advanced):
                return self.status(tenant.tenant_id, job_id)  # another worker advanced it
            job = advanced
        if job["status"] == DONE:
            count("GroupSync.done")
        return job

    def _list(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
        """One page of groupchat/list, each group read and reconciled; the last page moves on to the sweep."""
        creds = credentials(tenant)
        page = self.source.list_group_chats(creds, cursor=job["cursor"], limit=LIST_LIMIT)
        changed = errors = 0
        for chat_id, _status in page.chats:
            try:
                detail = self.source.get_group_chat(creds, chat_id)
            except SiyuError as exc:  # one group WeCom refuses does not hold up the others
                errors += 1
                logger.warning("group sync read failed", extra={"tenant": tenant.tenant_id, "code": exc.code})
                continue
            changed += self.book.reconcile(tenant, detail, now=self._now(), stamp=True)
        nxt = page.next_cursor or ""
        return dict(
            job,
            seq=job["seq"] + 1,
            cursor=nxt,
            phase=LIST if nxt else SWEEP,
            pages=job["pages"] + 1,
            groups_seen=job["groups_seen"] + len(page.chats),
            changed=job["changed"] + changed,
            errors=job["errors"] + errors,
            updated_at=iso_of(self.clock.now(), tenant.zone),
        )

    def _sweep(self, tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
        """One page of the groups Siyu holds: an active one the listing did not mark (``synced_at`` before the job
        started) is read on its own; WeCom refusing it as an unknown chat means it was dismissed (or left the
        app's reach) while its callback was lost, so it is marked dismissed."""
        tid, creds = tenant.tenant_id, credentials(tenant)
        page = self.repo.list_groups(tid, cursor=job.get("sweep_cursor"), limit=LIST_LIMIT)
        changed = dismissed = errors = 0
        for group in page.items:
            if not group.active or group.state.synced_at >= job["started"]:
                continue
            try:
                detail = self.source.get_group_chat(creds, group.chat_id)
            except WeComInvalidArgumentError:
                gone = replace(group.state, status=DISMISSED)
                dismissed += self.repo.save_group_state(tid, group.chat_id, gone, expected_rev=group.state.rev)
                continue
            except SiyuError as exc:
                errors += 1
                logger.warning("group sync read failed", extra={"tenant": tid, "code": exc.code})
                continue
            changed += self.book.reconcile(tenant, detail, now=self._now(), stamp=True)
        return dict(
            job,
            seq=job["seq"] + 1,
            sweep_cursor=page.next_cursor,
            changed=job["changed"] + changed + dismissed,
            dismissed=job.get("dismissed", 0) + dismissed,
            errors=job["errors"] + errors,
            status=RUNNING if page.next_cursor else DONE,
            updated_at=iso_of(self.clock.now(), tenant.zone),
        )

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def tick(self, tenant: Tenant, *, budget_seconds: float) -> dict[str, int]:
        """The backstop's share: continue the running sync, or start the day's one when the last is a day old."""
        current = self.repo.current_group_sync(tenant.tenant_id)
        now = int(self.clock.now().timestamp())
        if current is None or (current["status"] != RUNNING and now - current["started"] >= SYNC_EVERY_SECONDS):
            current = self.claim(tenant, FIRST if current is None else PERIODIC)
        if current["status"] != RUNNING:
            return {"group_syncs": 0}
        job = self.advance(tenant, current["job_id"], budget_seconds=budget_seconds)
        return {"group_syncs": 1, "groups_synced": job["groups_seen"] - current["groups_seen"]}
