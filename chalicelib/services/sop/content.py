"""What a step sends when it fires: its own message, or the group content it names (``Step.content_id``) as that
piece is now — read through ``ContentSource`` by the kernel (a task's text, notes and WeCom message) and by delivery
(a retry), never copied into the plan, so an edit to the piece reaches every step that uses it from its next fire.

A piece deleted after the plan was published leaves the step nothing to send: its touches fail with
``CONTENT_DELETED`` (the staff task too, with that reason), and each group's calendar goes on with its next step.

Then the content library (素材库) items its message names (``Message.content_ids``) and its script (话术,
``Step.script_id``) are resolved by the ``MessageLibrary`` (services/library_send.py): here, the one place a step's
message is built, so the kernel's task and a retry's delivery send the same thing; an item deleted fails the touch
with ``CONTENT_DELETED`` too.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.group_content import GroupContent, step_with
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Step

CONTENT_DELETED = "content_deleted"  # the reason a touch fails when its step's content no longer exists


class ContentSource(Protocol):
    """Group content by id (DynamoStore / FakeStore; the same read GroupContentService.content makes)."""

    def get_group_content(self, tenant_id: str, content_id: str) -> GroupContent | None: ...


class MessageLibrary(Protocol):
    """The content and script libraries as sending sees them (ContentSender)."""

    def step(self, tenant_id: str, step: Step) -> Step | None: ...

    def refresh(self, tenant_id: str, message: Message) -> Message: ...


def sendable(source: ContentSource, tenant_id: str, step: Step, library: MessageLibrary | None = None) -> Step | None:
    """The step as it goes out now (``domain.group_content.step_with``, then the library's items and script); the
    step itself when it names none; None when content it names was deleted."""
    if step.content_id is not None:
        content = source.get_group_content(tenant_id, step.content_id)
        if content is None:
            return None
        step = step_with(step, content)
    return step if library is None else library.step(tenant_id, step)
