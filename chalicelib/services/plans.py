"""SOP plans (培育计划): create, read, edit, publish, pause, resume, archive, and import from a spreadsheet.

Lifecycle: draft → published ⇄ paused; any of them → archived (terminal: no edits, no transitions).
Versions: a version that never went live (a draft, or the new version of a paused plan) is edited in place. Editing
a plan whose current version went live writes version N+1 as the new current version — live at once when the plan
is published (new enrollments start on it), not yet live when it is paused (resume publishes it). Old versions stay
readable and never change; enrollments stay pinned to the version they started on until a migration moves them.
Every write is conditional on the plan's ``rev``, so of two concurrent edits or transitions exactly one wins.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from chalicelib import schemas
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plan_diff import PlanDiff, diff_plans
from chalicelib.domain.plan_documents import keeps_kind, read_plan
from chalicelib.domain.plan_names import name_key, name_taken
from chalicelib.domain.plans import Audience, Plan, PlanStatus, Silence, plan_to_json
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError, PayloadTooLargeError
from chalicelib.ports import Clock, IdGenerator, Page
from chalicelib.services import plan_import, sheets
from chalicelib.services.plan_refs import PlanRepo, Refs
from chalicelib.services.plan_upload import SheetUpload, upload_sheet

READ_ONLY = ("plan_id", "version", "current_version", "status", "created_at", "updated_at", "published_at")
ON_CONFLICT = ("error", "new_version")  # an import under a name another plan holds: 409, or a new version of it
MAX_PLAN_BYTES = 300 * 1024  # a plan is stored twice (head and version) in items of at most 400 KB

DRAFT, PUBLISHED, PAUSED, ARCHIVED = PlanStatus.DRAFT, PlanStatus.PUBLISHED, PlanStatus.PAUSED, PlanStatus.ARCHIVED
TRANSITIONS: dict[str, tuple[frozenset[PlanStatus], PlanStatus]] = {
    "publish": (frozenset({DRAFT}), PUBLISHED),
    "pause": (frozenset({PUBLISHED}), PAUSED),
    "resume": (frozenset({PAUSED}), PUBLISHED),
    "archive": (frozenset({DRAFT, PUBLISHED, PAUSED}), ARCHIVED),
}
HINTS = {
    ("publish", PAUSED): "it is paused: resume it",
    ("pause", DRAFT): "a draft is not live: publish it first",
    ("resume", DRAFT): "a draft is not live: publish it first",
    **{(action, ARCHIVED): "it is archived, which is final" for action in ("publish", "pause", "resume")},
}


def _invalid(problems: list[dict[str, Any]], what: str = "the plan is invalid") -> InvalidError:
    """Every problem at once; when all of them are of one kind (a ``code``, e.g. content_not_found), so is the error."""
    codes = {p.get("code") for p in problems}
    return InvalidError(
        f"{what} ({len(problems)} error(s))", details=problems, code=codes.pop() if len(codes) == 1 else None
    )


class PlanService:
    def __init__(self, repo: PlanRepo, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids

    def _now(self, tenant: Tenant) -> str:
        return iso_of(self.clock.now(), tenant.zone)

    # --- reads --------------------------------------------------------------------------------------------------

    def get(self, tenant_id: str, plan_id: str, version: int | None = None) -> Plan:
        plan = self.repo.get_plan(tenant_id, plan_id, version)
        if plan is None:
            what = f"plan {plan_id}" + (f" version {version}" if version is not None else "")
            raise NotFoundError(f"{what} does not exist")
        return plan

    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None:
        """The plan as new enrollments see it (the SOP engine's PlanSource)."""
        return self.repo.get_plan(tenant_id, plan_id)

    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None:
        """A pinned version, carrying the plan's current status (a pause applies to every version)."""
        return self.repo.get_plan(tenant_id, plan_id, version)

    def published_versions(self, tenant_id: str) -> list[Plan]:
        """Every version of every published plan (a version carries its plan's status): what a large fire bounds
        the daily cap's priority contest by (``fate.priority_peaks``). A listing, then two reads per plan."""
        versions: list[Plan] = []
        cursor: str | None = None
        while True:
            page = self.repo.list_plans(tenant_id, status=PlanStatus.PUBLISHED.value, cursor=cursor, limit=100)
            for head in page.items:
                versions.extend(self.repo.list_plan_versions(tenant_id, head.plan_id))
            cursor = page.next_cursor
            if cursor is None:
                return versions

    def find(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page:
        if status is not None and status not in {s.value for s in PlanStatus}:
            raise InvalidError(f"status must be one of {', '.join(s.value for s in PlanStatus)}")
        return self.repo.list_plans(tenant_id, status=status, cursor=cursor, limit=limit)

    def versions(self, tenant_id: str, plan_id: str) -> list[Plan]:
        found = self.repo.list_plan_versions(tenant_id, plan_id)
        if not found:
            raise NotFoundError(f"plan {plan_id} does not exist")
        return found

    # --- validation ---------------------------------------------------------------------------------------------

    def check(
        self, tenant_id: str, data: dict[str, Any], *, plan_id: str | None = None
    ) -> tuple[Plan | None, list[dict[str, Any]]]:
        """The plan a document describes, with tag names resolved to ids, or every problem with it: the schema's,
        the document's own (unique step ids, UTF-8 bytes…) and its references (staff, channels, tags, plans)."""
        content = {k: v for k, v in data.items() if k not in READ_ONLY}
        try:
            schemas.validate("plan", content)
        except InvalidError as exc:  # the shape is wrong: nothing further can be read reliably
            return None, list(exc.details or [{"path": "/", "message": exc.message}])
        plan, problems = read_plan(content)
        refs = Refs(self.repo, tenant_id)
        refs.problems += problems
        for i, step in enumerate(plan.steps):
            refs.executor(step.executor, f"/steps/{i}/executor")
        refs.contents(plan)
        refs.library(plan)
        trigger = plan.trigger
        if trigger.channel_id is not None:
            refs.channel(trigger.channel_id, "/trigger/channel_id")
        if trigger.tag_id is not None:
            trigger = replace(trigger, tag_id=refs.tag(trigger.tag_id, "/trigger/tag_id"))
        a = plan.audience
        audience = Audience(
            tags_all=refs.tags(a.tags_all, "/audience/tags_all"),
            tags_any=refs.tags(a.tags_any, "/audience/tags_any"),
            tags_none=refs.tags(a.tags_none, "/audience/tags_none"),
            stages=a.stages,
            channels=a.channels,
            recheck_at_fire=a.recheck_at_fire,
        )
        for i, channel_id in enumerate(a.channels):
            refs.channel(channel_id, f"/audience/channels/{i}")
        exits = tuple(
            replace(e, tag_id=refs.tag(e.tag_id, f"/exit/{i}/tag_id")) if e.tag_id is not None else e
            for i, e in enumerate(plan.exits)
        )
        if plan.silence is not None and plan.silence.then_plan_id:
            self._check_handoff(tenant_id, plan.silence, plan_id, refs)
        plan = replace(plan, trigger=trigger, audience=audience, exits=exits)
        size = len(json.dumps(plan_to_json(plan), ensure_ascii=False).encode("utf-8"))
        if size > MAX_PLAN_BYTES:
            refs.problem("/steps", f"the plan is {size // 1024} KB; a plan holds at most {MAX_PLAN_BYTES // 1024} KB")
        return (None, refs.problems) if refs.problems else (plan, [])

    def _check_handoff(self, tenant_id: str, silence: Silence, plan_id: str | None, refs: Refs) -> None:
        target_id = silence.then_plan_id or ""
        path = "/silence/then_plan_id"
        if target_id == plan_id:
            refs.problem(path, "a plan cannot hand its silent customers to itself")
            return
        target = self.repo.get_plan(tenant_id, target_id)
        if target is None:
            refs.problem(path, f"plan {target_id} does not exist")
        elif target.status == ARCHIVED:
            refs.problem(path, f"plan {target_id} is archived")

    def _valid(self, tenant_id: str, data: dict[str, Any], *, plan_id: str | None = None) -> Plan:
        plan, problems = self.check(tenant_id, data, plan_id=plan_id)
        if plan is None:
            raise _invalid(problems)
        return plan

    # --- writes -------------------------------------------------------------------------------------------------

    def create(self, tenant: Tenant, data: dict[str, Any]) -> Plan:
        """A new draft, version 1."""
        return self._create(tenant, self._valid(tenant.tenant_id, data))

    def _create(self, tenant: Tenant, plan: Plan) -> Plan:
        now = self._now(tenant)
        plan = replace(
            plan,
            plan_id=self.ids.new_id("pl_"),
            version=1,
            current_version=1,
            status=DRAFT,
            rev=1,
            created_at=now,
            updated_at=now,
            published_at="",
        )
        self._name_free(tenant.tenant_id, plan.name, plan.plan_id)
        self.repo.create_plan(tenant.tenant_id, plan)
        return plan

    def update(self, tenant: Tenant, plan_id: str, data: dict[str, Any]) -> Plan:
        """Replace the given top-level fields. A version that never went live changes in place; otherwise the
        edit becomes version N+1. ``version`` in the body, if given, must be the current one (no stale edits)."""
        current = self.get(tenant.tenant_id, plan_id)
        if current.status == ARCHIVED:
            raise ConflictError(f"plan {plan_id} is archived; archived plans cannot be edited")
        based_on = data.get("version")
        if based_on is not None and based_on != current.version:
            raise ConflictError(
                f"plan {plan_id} is at version {current.version}, your edit is based on version {based_on}; "
                "reload and retry"
            )
        merged = keeps_kind(current, {**plan_to_json(current), **{k: v for k, v in data.items() if k not in READ_ONLY}})
        edited = self._valid(tenant.tenant_id, merged, plan_id=plan_id)
        if plan_to_json(edited) == plan_to_json(current):
            return current  # nothing changed: no write, no new version
        live = bool(current.published_at)
        version = current.version + 1 if live else current.version
        now = self._now(tenant)
        updated = replace(
            edited,
            plan_id=plan_id,
            version=version,
            current_version=version,
            status=current.status,
            rev=current.rev + 1,
            created_at=current.created_at,
            updated_at=now,
            published_at=now if live and current.status == PUBLISHED else "",
        )
        renamed_from = current.name if updated.name != current.name else None  # the name claim moves with it
        if renamed_from is not None:
            self._name_free(tenant.tenant_id, updated.name, plan_id)
        self.repo.save_plan(
            tenant.tenant_id, updated, expected_rev=current.rev, write_version=True, renamed_from=renamed_from
        )
        return updated

    def publish(self, tenant: Tenant, plan_id: str) -> Plan:
        """draft → published: new enrollments start on the current version."""
        return self._transition(tenant, plan_id, "publish")

    def pause(self, tenant: Tenant, plan_id: str) -> Plan:
        """published → paused: no new enrollments and no touches fire, for every version."""
        return self._transition(tenant, plan_id, "pause")

    def resume(self, tenant: Tenant, plan_id: str) -> Plan:
        """paused → published (an edit made while paused goes live now)."""
        return self._transition(tenant, plan_id, "resume")

    def archive(self, tenant: Tenant, plan_id: str) -> Plan:
        """Any state → archived, for good: no enrollments, no touches, no edits; its versions stay readable."""
        return self._transition(tenant, plan_id, "archive")

    def _transition(self, tenant: Tenant, plan_id: str, action: str) -> Plan:
        """A conditional status change. Repeating one that already happened returns the plan unchanged; losing a
        race re-reads once, so a concurrent identical request is not an error either."""
        allowed, target = TRANSITIONS[action]
        for attempt in range(2):
            current = self.get(tenant.tenant_id, plan_id)
            if current.status == target:
                return current
            if current.status not in allowed:
                hint = HINTS.get((action, current.status), f"it is {current.status.value}")
                raise ConflictError(f"cannot {action} plan {plan_id}: {hint}")
            if target == PUBLISHED:
                _, problems = self.check(tenant.tenant_id, plan_to_json(current), plan_id=plan_id)
                if problems:
                    raise _invalid(problems, f"plan {plan_id} cannot go live")
            going_live = target == PUBLISHED and not current.published_at
            now = self._now(tenant)
            updated = replace(
                current,
                status=target,
                rev=current.rev + 1,
                updated_at=now,
                published_at=now if going_live else current.published_at,
            )
            try:
                self.repo.save_plan(tenant.tenant_id, updated, expected_rev=current.rev, write_version=going_live)
            except ConflictError:
                if attempt:
                    raise
                continue
            return updated
        raise AssertionError("unreachable")  # pragma: no cover

    # --- spreadsheet import -------------------------------------------------------------------------------------

    def import_sheet(
        self, tenant: Tenant, raw: bytes, content_type: str, params: dict[str, str]
    ) -> tuple[Plan, dict[str, Any]]:
        """A draft plan from a CSV or XLSX SOP table, or every problem of every row at once (nothing stored).

        Plan names are unique per tenant: a name another plan holds is a 409 ``plan_name_taken`` naming it, unless
        the caller chose a new version of that plan (``as_new_version_of=<plan_id>``, or ``on_conflict=new_version``
        for whichever plan holds the name), which is then an edit of that plan (PATCH's rules: a new version if it
        went live, in place if it never did)."""
        target = self._import_target(tenant.tenant_id, params)
        if len(raw) > plan_import.MAX_UPLOAD_BYTES:
            raise PayloadTooLargeError(f"the sheet is over {plan_import.MAX_UPLOAD_BYTES // 1024} KB")
        fmt = sheets.sheet_format(content_type, raw)
        rows = sheets.read_table(raw, fmt, sheet=params.get("sheet"))
        staff = self.repo.list_staff(tenant.tenant_id)
        sheet = plan_import.parse_steps(rows, fmt, staff, min_day=plan_import.first_day(params))
        doc, errors = plan_import.plan_document(sheet, params)
        plan: Plan | None = None
        if sheet.readable:
            plan, problems = self.check(tenant.tenant_id, doc)
            errors += plan_import.locate(problems, sheet)
        row_errors = sorted(sheet.errors + [e for e in errors if "row" in e], key=lambda e: e["row"] or 0)
        errors = row_errors + [e for e in errors if "row" not in e]
        if errors or plan is None:
            raise _invalid(errors, "the sheet was not imported; nothing was stored")
        if target is None and params.get("on_conflict") == "new_version":
            target = self.holder_of(tenant.tenant_id, plan.name)
        if target is None:
            return self._create(tenant, plan), sheet.report()
        edited = self.update(tenant, target, plan_to_json(plan))
        return edited, {**sheet.report(), "as_new_version_of": target}

    def upload(self, tenant: Tenant, raw: bytes, content_type: str, params: dict[str, str]) -> SheetUpload:
        """import_sheet for a person: the plan, or the sheet's rows with every problem next to its row."""
        return upload_sheet(self, tenant, raw, content_type, params)

    def diff(self, tenant_id: str, plan_id: str, from_version: int, to_version: int | None = None) -> PlanDiff:
        """What changed from one version to another (default: the current one)."""
        return diff_plans(self.get(tenant_id, plan_id, from_version), self.get(tenant_id, plan_id, to_version))

    def holder_of(self, tenant_id: str, name: str) -> str | None:
        """The plan holding ``name``: its claim, or (a plan made before names were claimed) a head with that name."""
        holder = self.repo.plan_name_owner(tenant_id, name)
        if holder is not None:
            return holder
        key, cursor = name_key(name), None
        while True:  # plans per tenant are tens: one or two pages
            page = self.repo.list_plans(tenant_id, status=None, cursor=cursor, limit=100)
            found = next((p.plan_id for p in page.items if name_key(p.name) == key), None)
            if found is not None or not page.next_cursor:
                return found
            cursor = page.next_cursor

    def _name_free(self, tenant_id: str, name: str, plan_id: str) -> None:
        """Refuse a name another plan holds before writing. The claim's conditional write is what makes names
        race-free; this read adds the plans that hold a name without a claim (made before claims existed)."""
        holder = self.holder_of(tenant_id, name)
        if holder is not None and holder != plan_id:
            raise name_taken(name, holder)

    def _import_target(self, tenant_id: str, params: dict[str, str]) -> str | None:
        """The plan an import is a new version of, checked before the sheet is read (None: a new plan)."""
        on_conflict = params.get("on_conflict") or "error"
        if on_conflict not in ON_CONFLICT:
            raise InvalidError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}", code="invalid")
        target = params.get("as_new_version_of") or None
        if target is not None:
            self.get(tenant_id, target)  # 404 if there is no such plan
        return target
