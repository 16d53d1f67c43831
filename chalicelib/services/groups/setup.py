"""Group setup (/t/{tenant}/groups): ops' half of each customer group, the tenant's naming template and the report of
names that break it. WeCom's half (name, owner, admins, members) is read-only here: the callbacks and the sync keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from chalicelib.domain.group_naming import NamingTemplate, group_name, name_problems, template_problems
from chalicelib.domain.groups import GROUP_TYPES, Group, GroupSetup, setup_problems
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import GroupRepository, Page

MAX_ROUNDS = 10  # a filtered page reads at most this many pages of the store before answering short


class GroupRepo(GroupRepository, Protocol):
    """What group setup needs from storage: the groups, and the tenant's naming template."""

    def get_group_naming(self, tenant_id: str) -> NamingTemplate | None: ...
    def put_group_naming(self, tenant_id: str, template: NamingTemplate) -> None: ...


@dataclass(frozen=True)
class GroupFilter:
    type: str | None = None
    cohort: str | None = None
    status: str | None = None  # active | dismissed
    tag: str | None = None
    staff: str | None = None  # a staff token's userid: only groups they own or administer

    def keep(self, g: Group) -> bool:
        return (
            (self.type is None or g.setup.type == self.type)
            and (self.cohort is None or g.setup.cohort == self.cohort)
            and (self.status is None or g.state.status == self.status)
            and (self.tag is None or self.tag in g.setup.tags)
            and (self.staff is None or self.staff == g.state.owner or self.staff in g.state.admins)
        )


def filtered_page(
    fetch: Callable[[str | None, int], Page], keep: Callable[[Any], bool], cursor: str | None, limit: int
) -> Page:
    """Up to ``limit`` kept items, reading store pages until full or MAX_ROUNDS; each store page's cursor sits after
    its last item, so the answer's cursor resumes right after everything read (a page may be short: follow
    ``next_cursor`` until it is null)."""
    items: list[Any] = []
    for _ in range(MAX_ROUNDS):
        page = fetch(cursor, limit - len(items))
        items.extend(i for i in page.items if keep(i))
        cursor = page.next_cursor
        if cursor is None or len(items) >= limit:
            break
    return Page(items, cursor)


def _instant(epoch: int) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


def group_public(g: Group) -> dict[str, Any]:
    """A group as the API shows it: WeCom's half (read-only) and ops' setup with the rev that guards its edits."""
    s, st = g.setup, g.state
    return {
        "chat_id": g.chat_id,
        "name": st.name,
        "owner": st.owner,
        "admins": list(st.admins),
        "notice": st.notice,
        "status": st.status,
        "member_count": st.member_count,
        "known_to_wecom": g.known_to_wecom,
        "created_at": _instant(st.created_at),
        "synced_at": _instant(st.synced_at),
        "setup": {
            "type": s.type,
            "type_name": GROUP_TYPES.get(s.type) if s.type else None,
            "cohort": s.cohort,
            "cohort_start": s.cohort_start,
            "number": s.number,
            "kols": list(s.kols),
            "campaign": s.campaign,
            "tags": list(s.tags),
            "rev": s.rev,
        },
    }


def _setup_from(data: dict[str, Any]) -> GroupSetup:
    return GroupSetup(
        type=data.get("type"),
        cohort=data.get("cohort"),
        cohort_start=data.get("cohort_start"),
        number=data.get("number"),
        kols=tuple(data.get("kols") or ()),
        campaign=data.get("campaign"),
        tags=tuple(data.get("tags") or ()),
    )


def _real_date(value: str | None) -> bool:
    try:
        return value is None or bool(date.fromisoformat(value))
    except ValueError:
        return False


def _invalid(problems: list[tuple[str, str]]) -> InvalidError:
    summary = "; ".join(f"{f}: {m}" for f, m in problems)
    return InvalidError(summary, details=[{"path": f, "message": m} for f, m in problems])


class GroupService:
    def __init__(self, repo: GroupRepo) -> None:
        self.repo = repo

    def list(self, tenant_id: str, flt: GroupFilter, *, cursor: str | None, limit: int) -> Page:
        def fetch(after: str | None, n: int) -> Page:
            return self.repo.list_groups(tenant_id, cursor=after, limit=n)

        return filtered_page(fetch, flt.keep, cursor, limit)

    def get(self, tenant_id: str, chat_id: str, *, staff: str | None = None) -> Group:
        group = self.repo.get_group(tenant_id, chat_id)
        if group is None or (staff is not None and not GroupFilter(staff=staff).keep(group)):
            raise NotFoundError(f"group {chat_id} does not exist")
        return group

    def set_up(self, tenant_id: str, chat_id: str, data: dict[str, Any]) -> Group:
        """Replace ops' setup of the group if ``data["rev"]`` is still its setup's rev (409 otherwise: someone else
        edited it since it was read)."""
        group = self.get(tenant_id, chat_id)
        setup = _setup_from(data)
        problems = setup_problems(setup)
        if not problems and not _real_date(setup.cohort_start):
            problems.append(("cohort_start", "is not a real date"))
        if problems:
            raise _invalid(problems)
        rev = int(data["rev"])
        if not self.repo.save_group_setup(tenant_id, chat_id, setup, expected_rev=rev):
            current = self.get(tenant_id, chat_id).setup.rev
            raise ConflictError(
                f"the group's setup is at rev {current}, not {rev}: someone changed it; reload and retry",
                code="stale_rev",
                details={"rev": current},
            )
        return replace(group, setup=replace(setup, rev=rev + 1))

    # --- the naming template ----------------------------------------------------------------------------------

    def naming(self, tenant_id: str) -> NamingTemplate:
        return self.repo.get_group_naming(tenant_id) or NamingTemplate()

    def set_naming(self, tenant_id: str, data: dict[str, Any]) -> NamingTemplate:
        template = NamingTemplate(**data)
        problems = template_problems(template)
        if problems:
            raise _invalid(problems)
        self.repo.put_group_naming(tenant_id, template)
        return template

    def configured_naming(self, tenant_id: str) -> NamingTemplate:
        template = self.naming(tenant_id)
        if not template.configured:
            raise ConflictError(
                f"tenant {tenant_id} has no group naming template; PUT /t/{tenant_id}/settings/group-naming first",
                code="no_naming_template",
            )
        return template

    def render_name(self, tenant_id: str, positioning: str, cohort: str, number: str) -> str:
        return group_name(self.configured_naming(tenant_id), positioning, cohort, number)

    def naming_report(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page:
        """A page of the active groups whose names break the template, each with why (``{chat_id, name,
        problems}``)."""
        template = self.configured_naming(tenant_id)

        def fetch(after: str | None, n: int) -> Page:
            page = self.repo.list_groups(tenant_id, cursor=after, limit=n)
            rows = [_report_row(template, g) for g in page.items if g.active]
            return Page([r for r in rows if r["problems"]], page.next_cursor)

        return filtered_page(fetch, lambda row: True, cursor, limit)


def _report_row(template: NamingTemplate, g: Group) -> dict[str, Any]:
    problems = name_problems(template, g.state.name, cohort=g.setup.cohort, number=g.setup.number)
    return {"chat_id": g.chat_id, "name": g.state.name, "problems": problems}
