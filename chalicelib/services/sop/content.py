"""What a step sends when it fires: its own message, or the group content it names (``Step.content_id``) as that
piece is now — read through ``ContentSource`` by the kernel (a task's text, notes and WeCom message) and by delivery
(a retry), never copied into the plan, so an edit to the piece reaches every step that uses it from its next fire.

A piece deleted after the plan was published leaves the step nothing to send: its touches fail with
``CONTENT_DELETED`` (the staff task too, with that reason), and each group's calendar goes on with its next step.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.group_content import GroupContent, step_with
from chalicelib.domain.plans import Step

CONTENT_DELETED = "content_deleted"  # the reason a touch fails when its step's content no longer exists


class ContentSource(Protocol):
    """Group content by id (DynamoStore / FakeStore; the same read GroupContentService.content makes)."""

    def get_group_content(self, tenant_id: str, content_id: str) -> GroupContent | None: ...


def sendable(source: ContentSource, tenant_id: str, step: Step) -> Step | None:
    """The step as it goes out now (``domain.group_content.step_with``); the step itself when it names no content;
    None when the content it names was deleted."""
    if step.content_id is None:
        return step
    content = source.get_group_content(tenant_id, step.content_id)
    return None if content is None else step_with(step, content)
