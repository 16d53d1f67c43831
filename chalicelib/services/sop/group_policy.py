"""The group subject policy: a group plan's touches (camp calendars, 群发), as the kernel asks them.

A group's touch is judged by ``fate.decide`` — the customer's own decision: the group's revalidation (dismissed,
ownerless, out of the audience, the enrollment, the plan's status), then quiet hours, content windows and lateness,
then the group's quota (WeCom's per-group monthly receive limit and the tenant's daily caps, the same touch rules as
customers'), taken by one conditional write. The group's owner (群主) sends: one task per owner per bucket, each
``add_msg_template`` with ``chat_type`` "group" and at most 2,000 chat ids (the kernel splits above that).
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain import fate
from chalicelib.domain.groups import Group
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Step
from chalicelib.domain.sop import GROUP, MAX_CHATS_PER_TASK, Enrollment, Subject, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import MsgTemplateResult, WeComPort
from chalicelib.services.sop.policy import SEND, FireContext, SubjectPage, Verdict, verdict_of
from chalicelib.services.sop.rules import creds_of


class GroupPolicyRepo(Protocol):
    """What the group policy reads and writes (DynamoStore / FakeStore)."""

    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]: ...
    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]: ...
    def take_group_quota(
        self,
        tenant_id: str,
        chat_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int,
        touch: Touch,
    ) -> str | None: ...


class GroupPolicy:
    """``SubjectPolicy[Group]``: groups are reached by chat id (chat_type "group", ≤ 2,000 a task)."""

    kind = GROUP
    chat_type = "group"
    recipient_limit = MAX_CHATS_PER_TASK

    def __init__(self, repo: GroupPolicyRepo, wecom: WeComPort) -> None:
        self.repo = repo
        self.wecom = wecom

    def load(self, tenant_id: str, plan_id: str, subjects: list[Subject]) -> SubjectPage[Group]:
        groups = self.repo.get_groups(tenant_id, [s.id for s in subjects])
        enrollments = self.repo.subject_enrollments_in(tenant_id, subjects, plan_id)
        return SubjectPage({Subject.group(chat_id): g for chat_id, g in groups.items()}, enrollments)

    def judge(self, ctx: FireContext, touch: Touch, group: Group | None, enrollment: Enrollment | None) -> Verdict:
        """The touch's fate by ``domain/fate.py`` (the simulator's and the customers' own decision), then the
        group's quota write it asks for. Group plans do not contest a daily cap by priority: no rivals."""
        decided = fate.decide(
            plan=ctx.plan,
            step=ctx.step,
            enrollment=enrollment,
            customer=None,
            group=group,
            touch=touch,
            rules=ctx.rules,
            zone=ctx.tenant.zone,
            now=ctx.now,
            tenant_id=ctx.tenant.tenant_id,
        )
        if decided.outcome == fate.SEND:
            assert ctx.step is not None and group is not None and decided.quota is not None
            refused = self.take_quota(ctx, touch, group, decided.quota)
            if refused is None:
                return Verdict(SEND)
            decided = fate.on_refused(refused, ctx.step, ctx.rules, ctx.tenant.zone, ctx.now)
        return verdict_of(decided, touch, enrollment)

    def take_quota(self, ctx: FireContext, touch: Touch, group: Group, quota: fate.Quota | None = None) -> str | None:
        """Count the touch against the group's month (and the capped day): the refusal, or None (counted)."""
        assert ctx.step is not None
        quota = quota or fate.quota(ctx.step, ctx.rules, ctx.tenant.zone, ctx.now)
        return self.repo.take_group_quota(
            ctx.tenant.tenant_id,
            group.chat_id,
            month=quota.month,
            day_key=quota.day_key,
            day_cap=quota.day_cap,
            month_cap=quota.month_cap,
            touch=touch,
        )

    def executor(self, step: Step, state: Group) -> str:
        """The group's owner: WeCom sends a group message only from it (validation keeps ``step.executor`` owner)."""
        return state.state.owner

    def address(self, state: Group) -> str:
        return state.chat_id

    def deliver(self, tenant: Tenant, *, sender: str, recipients: list[Group], message: Message) -> MsgTemplateResult:
        return self.wecom.add_msg_template(
            creds_of(tenant),
            sender=sender,
            message=message,
            chat_type=self.chat_type,
            chat_ids=[self.address(g) for g in recipients],
        )
