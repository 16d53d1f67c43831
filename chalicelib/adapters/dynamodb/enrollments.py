"""Enrollments of any subject kind, and the plans' rosters that list them.

Keys (docs/data-model.md, "SOP engine" and "Enrollment listings"; built in keys.py):
- enrollment: ``<subject partition>`` / ``ENR#<plan_id>`` (``EnrollmentItem``); a customer's subject partition is
  the customer's own ``T#<tid>#C#<cid>`` (erasure deletes it with them), another kind's ``T#<tid>#S#<kind>#<id>``
- a plan's roster: ``T#<tid>#PLE#<plan_id>`` / ``<subject id>`` (``RosterItem``), written once per (plan, subject)
  before the enrollment's own conditional put; it holds nothing but the key. A listing reads a page of it, then the
  page's enrollments in one strongly consistent BatchGetItem (the status lives there), so a status change never
  writes the roster. Erasure deletes the customer's roster entries with its partition.

Every transition is a conditional write, so an enrollment started or ended twice (or concurrently) changes once.
A customer's enrollment item is also their timeline's start and exit of the run (derived when the timeline is read,
adapters/dynamodb/timeline.py): a start or an exit writes nothing more. A run that leaves its item keeps its entries
as real ones: the put answers the item it replaced (``ReturnValues=ALL_OLD``), and a migration writes the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace

from pynamodb.connection import Connection
from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.models import EnrollmentItem, RosterItem, SiyuItem
from chalicelib.adapters.dynamodb.sop_docs import enrollment_doc, enrollment_of
from chalicelib.adapters.dynamodb.sop_table import dump
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.sop import ACTIVE, CUSTOMER, Enrollment, Subject
from chalicelib.errors import ConflictError
from chalicelib.ports import Page

_TABLE_KEY = frozenset({"pk", "sk"})
MAX_ROUNDS = 10  # a filtered page reads at most this many rounds before answering short with its cursor
Row = tuple[Raw, Enrollment | None]


def roster_keys(tid: str, customer_id: str, plan_ids: Iterable[str]) -> list[tuple[str, str]]:
    """The roster entries of one customer (what erasure deletes besides the partition)."""
    return [(k.roster_pk(tid, plan_id), customer_id) for plan_id in plan_ids]


def _cursor_in(cursor: str | None, partition: str) -> Raw | None:
    """A cursor of this listing: a table key (pk, sk) in the partition being read (tenant and plan/customer bound)."""
    return decode_cursor(cursor, partition_attr="pk", partition=partition, attrs=_TABLE_KEY, code="invalid")


def _subject_pk(tenant_id: str, subject: Subject) -> str:
    return k.subject_pk(tenant_id, subject.kind, subject.id)


def _enrollment(item: EnrollmentItem) -> Enrollment:
    return enrollment_of(json.loads(item.doc or "{}"))


def _raw_enrollment(raw: Raw) -> Enrollment:
    return _enrollment(EnrollmentItem.from_raw_data(raw))


def _item(tenant_id: str, e: Enrollment) -> EnrollmentItem:
    return EnrollmentItem(
        pk=_subject_pk(tenant_id, e.subject),
        sk=k.enrollment_sk(e.plan_id),
        status=e.status,
        eid=e.enrollment_id,
        doc=dump(enrollment_doc(e)),
    )


class EnrollmentRepository(DynamoBase):
    """Given the connection, the table and the timeline (a run that leaves its item keeps its entries there)."""

    def __init__(self, connection: Connection, table_name: str, timeline: TimelineRepository) -> None:
        super().__init__(connection, table_name)
        self.timeline = timeline

    # --- one subject's enrollments ------------------------------------------------------------------------------

    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None:
        """A customer's enrollment in a plan (strongly consistent)."""
        pk = k.subject_pk(tenant_id, CUSTOMER, customer_id)
        item = self.get(EnrollmentItem, pk, k.enrollment_sk(plan_id), consistent=True)
        return _enrollment(item) if item else None

    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]:
        """Many customers' enrollments in one plan, by customer id."""
        found = self.subject_enrollments_in(tenant_id, [Subject.customer(cid) for cid in customer_ids], plan_id)
        return {subject.id: e for subject, e in found.items()}

    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]:
        """Many subjects' enrollments in one plan, strongly consistent, in BatchGetItem calls (the fire reads a page
        of touches' enrollments in a round trip or two instead of one GetItem each)."""
        keys = [(_subject_pk(tenant_id, s), k.enrollment_sk(plan_id)) for s in subjects]
        found = (_raw_enrollment(raw) for raw in self.batch_get(keys, consistent=True).values())
        return {e.subject: e for e in found}

    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]:
        """Every enrollment of one customer (strongly consistent)."""
        return self.subject_enrollments(tenant_id, Subject.customer(customer_id))

    def subject_enrollments(self, tenant_id: str, subject: Subject) -> list[Enrollment]:
        """Every enrollment of one subject (strongly consistent)."""
        prefix = SiyuItem.sk.startswith(k.ENROLLMENT_PREFIX)
        items, _ = self.query(EnrollmentItem, _subject_pk(tenant_id, subject), prefix, consistent=True)
        return [_enrollment(i) for i in items]

    # --- transitions --------------------------------------------------------------------------------------------

    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool:
        """Start an enrollment unless the re-entry policy forbids it (False then): never = only the first time;
        after_completion = not while one is active; always = replace even an active one. The item is the run's
        timeline entries (derived when the timeline is read): only a run it replaces is written there for real."""
        item = _item(tenant_id, enrollment)
        self.put_roster(tenant_id, enrollment)  # the plan's listing first
        cond: Condition | None = None
        if reentry != "always":
            cond = SiyuItem.pk.does_not_exist()
            if reentry == "after_completion":
                cond = cond | (EnrollmentItem.status != ACTIVE)
        try:
            old = self.put_replacing(item, cond)
        except ConflictError:  # the policy refused: the condition failed
            return False
        replaced = _raw_enrollment(old) if old else None
        if replaced is not None and replaced.enrollment_id != enrollment.enrollment_id:  # not a repeat of this run
            self._keep(tenant_id, replaced)
        return True

    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool:
        """Active → completed/exited, only for that very enrollment (a later run is untouched). The exit writes no
        timeline entry: the ended item renders it."""
        ended = replace(enrollment, status=status, exit_reason=reason, ended_at=at)
        return self._put_if_active(tenant_id, enrollment, ended)

    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool:
        """Move an active enrollment to another plan version (a migration), only if it is still that run. The run's
        timeline start keeps the version it started on: once moved, its item no longer holds it, so the first move
        writes the start as a real entry (only if none is there: a later move keeps the first)."""
        if not self._put_if_active(tenant_id, enrollment, replace(enrollment, version=version)):
            return False
        if version != enrollment.version and enrollment.subject.kind == CUSTOMER:
            self.timeline.log_enrollment(tenant_id, replace(enrollment, status=ACTIVE))
        return True

    def _put_if_active(self, tenant_id: str, enrollment: Enrollment, changed: Enrollment) -> bool:
        item = _item(tenant_id, changed)
        cond = (EnrollmentItem.status == ACTIVE) & (EnrollmentItem.eid == enrollment.enrollment_id)
        return self.conditional(lambda: item.save(condition=cond))

    def _keep(self, tenant_id: str, run: Enrollment) -> None:
        """A customer's run replaced by a re-entry leaves its item: its start and exit become real timeline entries.
        The start is written only if none is there (its first move to another version wrote it with the version it
        started on, or it was written before starts were derived)."""
        if run.subject.kind != CUSTOMER:
            return
        self.timeline.log_enrollment(tenant_id, replace(run, status=ACTIVE))
        if run.status != ACTIVE:
            self.timeline.log_enrollment(tenant_id, run)

    # --- the plans' rosters and the listings --------------------------------------------------------------------

    def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None:
        """The plan's roster entry for the subject: idempotent (the same key every run), written before the
        enrollment so no enrollment is ever missing from its plan's listing."""
        with translate():
            RosterItem(pk=k.roster_pk(tenant_id, enrollment.plan_id), sk=enrollment.subject.id).save()

    def list_customer_enrollments(
        self, tenant_id: str, customer_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        """The customer's enrollments by plan id, optionally of one status (read, then kept or skipped here)."""
        pk = k.customer_pk(tenant_id, customer_id)

        def rows(items: list[Raw]) -> list[Row]:
            return [(_key(raw), _raw_enrollment(raw) if _wanted(raw, status) else None) for raw in items]

        prefix = SiyuItem.sk.startswith(k.ENROLLMENT_PREFIX)
        return self._pages(EnrollmentItem, pk, prefix, _cursor_in(cursor, pk), limit, rows)

    def list_plan_enrollments(
        self,
        tenant_id: str,
        plan_id: str,
        *,
        status: str | None,
        cursor: str | None,
        limit: int,
        kind: str = CUSTOMER,
    ) -> Page:
        """The plan's enrollments by subject id (customers, or the groups of a group plan: ``kind``): a page of roster
        keys, then their enrollments in one consistent BatchGetItem; a status filter reads what it skips
        (≤ ``MAX_ROUNDS`` rounds, then a short page)."""
        pk = k.roster_pk(tenant_id, plan_id)

        def rows(items: list[Raw]) -> list[Row]:
            keys = [(k.subject_pk(tenant_id, kind, raw["sk"]["S"]), k.enrollment_sk(plan_id)) for raw in items]
            found = self.batch_get(keys, consistent=True)  # none for a key: erased, or a crash before its put
            return [
                (_key(raw), _raw_enrollment(hit) if (hit := found.get(key)) and _wanted(hit, status) else None)
                for raw, key in zip(items, keys, strict=True)
            ]

        return self._pages(RosterItem, pk, None, _cursor_in(cursor, pk), limit, rows, consistent=False)

    @staticmethod
    def _pages(
        model: type[SiyuItem],
        pk: str,
        range_condition: Condition | None,
        start: Raw | None,
        limit: int,
        rows: Callable[[list[Raw]], list[Row]],
        *,
        consistent: bool = True,
    ) -> Page:
        """Query rounds (one key more than still wanted, so a full last page says there is no more) until ``limit``
        items or ``MAX_ROUNDS``; the cursor is the key of the last item read."""
        items: list[Enrollment] = []
        last: Raw | None = None
        for _ in range(MAX_ROUNDS):
            with translate():
                page = next(
                    model.query(
                        pk,
                        range_condition,
                        consistent_read=consistent,
                        page_size=limit - len(items) + 1,
                        last_evaluated_key=start,
                    ).page_iter
                )
            for key, enrollment in rows(page.get("Items", [])):
                if enrollment is not None:
                    if len(items) == limit:
                        return Page(items, encode_cursor(last) if last else None)  # one more exists
                    items.append(enrollment)
                last = key
            start = page.get("LastEvaluatedKey")
            if not start:
                return Page(items, None)
            if len(items) >= limit:
                break
        return Page(items, encode_cursor({"pk": start["pk"], "sk": start["sk"]}) if start else None)


def _key(raw: Raw) -> Raw:
    return {"pk": raw["pk"], "sk": raw["sk"]}


def _wanted(raw: Raw, status: str | None) -> bool:
    return status is None or raw["status"]["S"] == status
