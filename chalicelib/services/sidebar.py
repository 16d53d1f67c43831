"""The chat sidebar (聊天工具栏): what WeCom's page beside a chat needs, each in one call.

``frame`` is the page WeCom opens: ``wx.agentConfig``'s parameters signed for the page's own public URL (the app's
ticket, the Clock's time, a fresh nonce), so its script can ask WeCom which customer the chat is with
(``getCurExternalContact``), and the JS-SDK to load; what stops it (no AgentId, WeCom unreachable) is said, not
raised. ``customer`` is what the page then shows of that customer: profile (the phone only masked, as stored), tags
by name, stage, the newest timeline entries, the active plans each with the step it will touch next (that step's 话术
and text, to copy), and the script library's 话术 for the customer's stage. A staff member sees only the customers
they own: another's is ForbiddenError (the 403 page), exactly as the JSON API scopes a staff token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from chalicelib.domain.channels import Channel
from chalicelib.domain.customers import Customer, customer_id_for
from chalicelib.domain.facts import Alias
from chalicelib.domain.fate import held_out
from chalicelib.domain.jssdk import AgentConfig, agent_config
from chalicelib.domain.library import Script
from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.sidebar import check_external_userid, upcoming_step
from chalicelib.domain.sop import ACTIVE, Enrollment
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import Taxonomy
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ForbiddenError, InvalidError, NotFoundError, UpstreamError
from chalicelib.ports import Clock, IdGenerator, JsApiTicketPort, WeComCredentials
from chalicelib.services.timeline import TimelineRepo, TimelineService

# The JS-SDK calls the sidebar makes after agentConfig: which customer the chat is with.
JS_API_LIST = ("getCurExternalContact",)
TIMELINE_LIMIT = 30  # the newest entries: what a staff member glances at mid-chat (the customer page has the rest)


class SidebarRepo(TimelineRepo, Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def get_plan(self, tenant_id: str, plan_id: str, version: int | None = None) -> Plan | None: ...
    def taxonomy(self, tenant_id: str) -> Taxonomy: ...
    def get_script(self, tenant_id: str, script_id: str) -> Script | None: ...
    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...


class StageScripts(Protocol):
    """The script library (话术库) by customer stage (services/scripts.py)."""

    def for_stage(self, tenant_id: str, stage: str) -> Sequence[Script]: ...


@dataclass(frozen=True)
class SidebarFrame:
    """The sidebar page before it knows its customer: ``config`` None when it cannot be signed (``problem`` says
    why, in the staff member's words)."""

    url: str  # the page's public URL, as signed: its script checks the browser shows the same
    jssdk_url: str
    config: AgentConfig | None
    problem: str = ""


@dataclass(frozen=True)
class NextTouch:
    """The step an active plan touches the customer with next: what the staff member is about to say."""

    step_id: str
    position: int  # 1 for the plan's first step
    title: str
    notes: str  # the step's 话术 for the staff member: its own notes, or the library script it names
    text: str  # the message the customer receives


@dataclass(frozen=True)
class ActivePlan:
    plan_id: str
    name: str
    version: int
    enrolled_at: str
    next_touch: NextTouch | None  # None: the plan is done, in its holdout, or its place is beyond the entries read
    held_out: bool = False  # in the plan's holdout (对照组): it sends them nothing, and staff should not either


@dataclass(frozen=True)
class TagName:
    tag_id: str
    group: str
    name: str


@dataclass(frozen=True)
class SidebarCustomer:
    customer: Customer
    owner_name: str  # the owner's name as the staff list has it ("" for a userid it does not know)
    channel_name: str  # the source channel's name ("" for one since deleted, or none)
    tags: tuple[TagName, ...]
    timeline: tuple[dict[str, Any], ...]  # public timeline entries, newest first
    timeline_more: bool  # older entries exist (the customer page pages through them)
    plans: tuple[ActivePlan, ...]
    scripts: tuple[Script, ...] = field(default_factory=tuple)  # the script library's 话术 for the stage


class SidebarService:
    def __init__(
        self,
        repo: SidebarRepo,
        tickets: JsApiTicketPort,
        clock: Clock,
        ids: IdGenerator,
        *,
        console_url: str,
        jssdk_url: str,
        scripts: StageScripts | None = None,
    ) -> None:
        self.repo = repo
        self.tickets = tickets
        self.clock = clock
        self.ids = ids
        self.console_url = console_url.rstrip("/")
        self.jssdk_url = jssdk_url
        self.scripts = scripts

    def frame(self, tenant: Tenant, query: Mapping[str, str]) -> SidebarFrame:
        """The sidebar page of ``tenant`` as opened with ``query``, signed for its public URL (``console_url``)."""
        url = f"{self.console_url}/console/{quote(tenant.tenant_id, safe='')}/sidebar"
        if query:
            url = f"{url}?{urlencode(sorted(query.items()))}"
        if not tenant.agent_id:
            problem = "侧边栏未配置：请管理员为机构设置自建应用的 AgentId（wecom.agent_id）。"
            return SidebarFrame(url, self.jssdk_url, None, problem)
        try:
            config = self.agent_config(tenant, url)
        except UpstreamError:
            problem = "暂时无法从企业微信取得签名，请稍后刷新重试。"
            return SidebarFrame(url, self.jssdk_url, None, problem)
        return SidebarFrame(url, self.jssdk_url, config)

    def agent_config(self, tenant: Tenant, url: str) -> AgentConfig:
        """wx.agentConfig's parameters for the page at ``url`` (as the browser has it; the fragment is not signed)."""
        if not tenant.agent_id:
            raise InvalidError("wx.agentConfig needs the tenant's AgentId (wecom.agent_id)")
        creds = WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
        ticket = self.tickets.agent_jsapi_ticket(creds)
        nonce = hashlib.sha256(self.ids.secret(16).encode()).hexdigest()[:16]  # letters and digits only
        return agent_config(
            corp_id=tenant.corp_id,
            agent_id=str(tenant.agent_id),
            ticket=ticket,
            noncestr=nonce,
            timestamp=int(self.clock.now().timestamp()),
            url=url,
            js_api_list=JS_API_LIST,
        )

    def customer(self, tenant: Tenant, external_userid: str, *, staff_scope: str | None) -> SidebarCustomer:
        """The customer the chat is with, for ``staff_scope`` (a staff member: only their own; None: ops)."""
        customer = self._resolve(tenant, check_external_userid(external_userid))
        if staff_scope is not None and customer.owner_userid != staff_scope:
            raise ForbiddenError("这位客户不是你负责的客户，不能查看。")
        tid, cid = tenant.tenant_id, customer.customer_id
        page = TimelineService(self.repo).page(tid, customer, tenant.zone, limit=TIMELINE_LIMIT)
        entries: list[dict[str, Any]] = page["items"]
        whole_story = page["next_cursor"] is None
        plans = []
        for enrollment in sorted(self.repo.enrollments_of(tid, cid), key=lambda e: e.enrolled_at):
            if enrollment.status != ACTIVE:
                continue
            plan = self.repo.get_plan(tid, enrollment.plan_id, enrollment.version)
            if plan is None:
                continue
            control = held_out(plan, enrollment.subject, tid)  # its script would spoil the plan's measured lift
            step = None if control else upcoming_step(plan, enrollment.enrollment_id, entries, whole_story=whole_story)
            upcoming = None if step is None else self._next_touch(tid, plan, step)
            plans.append(ActivePlan(plan.plan_id, plan.name, plan.version, enrollment.enrolled_at, upcoming, control))
        scripts = tuple(self.scripts.for_stage(tid, customer.stage.value)) if self.scripts is not None else ()
        owner = self.repo.get_staff(tid, customer.owner_userid)
        channel = self.repo.get_channel(tid, customer.source_channel_id) if customer.source_channel_id else None
        return SidebarCustomer(
            customer=customer,
            owner_name=owner.name if owner is not None else "",
            channel_name=channel.name if channel is not None else "",
            tags=_tag_names(self.repo.taxonomy(tid), customer),
            timeline=tuple(entries),
            timeline_more=not whole_story,
            plans=tuple(plans),
            scripts=scripts,
        )

    def _next_touch(self, tenant_id: str, plan: Plan, step: Step) -> NextTouch:
        """The step as the staff member reads it: a step naming a library script (``script_id``) says that script
        (as edited since), else its own notes."""
        script = self.repo.get_script(tenant_id, step.script_id) if step.script_id else None
        notes = script.text if script is not None else step.notes
        title = step.title or (script.title if script is not None else "")
        return NextTouch(step.id, plan.steps.index(step) + 1, title, notes, step.message.text)

    def _resolve(self, tenant: Tenant, external_userid: str) -> Customer:
        """The customer of an external userid, as intake derives it: the tenant-keyed digest, then the ext alias of
        a contact merged into another customer."""
        digest = tenant.hmac_hex("ext:" + external_userid)
        customer = self.repo.get_customer(tenant.tenant_id, customer_id_for(digest))
        if customer is None:
            alias = self.repo.find_alias(tenant.tenant_id, "ext", digest)
            if alias is not None and alias.customer_id and alias.erased_at is None:
                customer = self.repo.get_customer(tenant.tenant_id, alias.customer_id)
        if customer is None:
            raise NotFoundError("私域里还没有这位客户（可能尚未添加或已被删除）。")
        return customer


def _tag_names(taxonomy: Taxonomy, customer: Customer) -> tuple[TagName, ...]:
    names = {t.tag_id: TagName(t.tag_id, g.name, t.name) for g in taxonomy.groups for t in g.tags}
    return tuple(names.get(t, TagName(t, "", t)) for t in sorted(customer.tags))
