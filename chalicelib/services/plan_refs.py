"""A plan's references checked against the tenant: staff, tags, channels and the group content its steps send.

Each is read once per check (PlanService.check), so a plan with a hundred steps costs a few reads, and every problem
is reported with its JSON path in one answer.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

from chalicelib.domain.group_content import GroupContent
from chalicelib.domain.library import ContentItem, Script
from chalicelib.domain.plans import OWNER, Plan
from chalicelib.ports import ChannelRepository, PlanRepository, StaffRepository, TagRepository
from chalicelib.services.sop.content import ContentSource

CONTENT_NOT_FOUND = "content_not_found"  # a step names group content the tenant does not have
CONTENT_OF_ANOTHER_GROUP = "content_of_another_group"  # a step names one group's own piece for other groups too
SCRIPT_NOT_FOUND = "script_not_found"  # a step names a script (话术) the tenant does not have


class LibrarySource(Protocol):
    """The content and script libraries' reads (DynamoStore / FakeStore)."""

    def get_content_items(self, tenant_id: str, content_ids: list[str]) -> dict[str, ContentItem]: ...
    def get_script(self, tenant_id: str, script_id: str) -> Script | None: ...


class PlanRepo(
    PlanRepository, StaffRepository, ChannelRepository, TagRepository, ContentSource, LibrarySource, Protocol
):
    """What plan administration needs from storage (plans, and what they refer to)."""


class Refs:
    """The tenant's staff, tags and channels, read once per check, to resolve and verify a plan's references."""

    def __init__(self, repo: PlanRepo, tenant_id: str) -> None:
        self.repo = repo
        self.tenant_id = tenant_id
        self.staff = {s.userid: s for s in repo.list_staff(tenant_id)}
        self.tag_ids: set[str] = set()
        self.tags_named: dict[str, list[tuple[str, str]]] = defaultdict(list)  # name -> [(tag id, group name)]
        for group in repo.taxonomy(tenant_id).groups:
            for tag in group.tags:
                self.tag_ids.add(tag.tag_id)
                self.tags_named[tag.name].append((tag.tag_id, group.name))
        self.channels: dict[str, bool] = {}
        self.problems: list[dict[str, Any]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def tag(self, ref: str, path: str) -> str:
        """A tag id, or the id of the only tag with that name; stored as the id (customers carry tag ids)."""
        if ref in self.tag_ids:
            return ref
        named = self.tags_named.get(ref, [])
        if len(named) == 1:
            return named[0][0]
        if named:
            groups = ", ".join(sorted(g for _, g in named))
            self.problem(path, f"tag name {ref!r} is in several groups ({groups}); use its tag id")
        else:
            self.problem(path, f"tag {ref!r} does not exist")
        return ref

    def tags(self, refs: tuple[str, ...], path: str) -> tuple[str, ...]:
        return tuple(self.tag(r, f"{path}/{i}") for i, r in enumerate(refs))

    def channel(self, channel_id: str, path: str) -> None:
        if channel_id not in self.channels:
            self.channels[channel_id] = self.repo.get_channel(self.tenant_id, channel_id) is not None
        if not self.channels[channel_id]:
            self.problem(path, f"channel {channel_id} does not exist")

    def executor(self, userid: str, path: str) -> None:
        member = self.staff.get(userid)
        if userid == OWNER:
            return
        if member is None:
            self.problem(path, f"staff {userid!r} does not exist (use a staff userid, or owner)")
        elif not member.active:
            self.problem(path, f"staff {userid!r} is inactive")

    def contents(self, plan: Plan) -> None:
        """Each step's group content must exist in the tenant; a piece kept for one group (its ``chat_id``) may be
        sent only by a plan whose audience is that group alone. Each problem carries its ``code``."""
        only = plan.groups.chat_ids if len(plan.groups.chat_ids) == 1 else ()
        read: dict[str, GroupContent | None] = {}
        for i, step in enumerate(plan.steps):
            if step.content_id is None:
                continue
            path = f"/steps/{i}/message/content_id"
            if step.content_id not in read:
                read[step.content_id] = self.repo.get_group_content(self.tenant_id, step.content_id)
            content = read[step.content_id]
            if content is None:
                message = f"group content {step.content_id} does not exist"
                self.problems.append({"path": path, "message": message, "code": CONTENT_NOT_FOUND})
            elif content.chat_id is not None and only != (content.chat_id,):
                message = (
                    f"group content {step.content_id} is group {content.chat_id}'s own: only a plan whose "
                    f"group_audience.chat_ids is [{content.chat_id!r}] may send it"
                )
                self.problems.append({"path": path, "message": message, "code": CONTENT_OF_ANOTHER_GROUP})

    def library(self, plan: Plan) -> None:
        """Each step's content library items (``message/content_ids``) and script (``script_id``) must exist in the
        tenant: one BatchGetItem for every item the plan names, one read per script."""
        named = [c for step in plan.steps for c in step.message.content_ids]
        found = self.repo.get_content_items(self.tenant_id, list(dict.fromkeys(named))) if named else {}
        scripts: dict[str, bool] = {}
        for i, step in enumerate(plan.steps):
            for j, content_id in enumerate(step.message.content_ids):
                if content_id not in found:
                    path, message = f"/steps/{i}/message/content_ids/{j}", f"content {content_id} does not exist"
                    self.problems.append({"path": path, "message": message, "code": CONTENT_NOT_FOUND})
            if step.script_id is not None:
                if step.script_id not in scripts:
                    scripts[step.script_id] = self.repo.get_script(self.tenant_id, step.script_id) is not None
                if not scripts[step.script_id]:
                    path, message = f"/steps/{i}/script_id", f"script {step.script_id} does not exist"
                    self.problems.append({"path": path, "message": message, "code": SCRIPT_NOT_FOUND})
