"""Who is built from what, and who hears what: the services wired from their ports (chalicelib/bootstrap.py builds
the ports and calls this on first use, so ``import app`` does not import the services).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from chalicelib.adapters.webhook_http import Urllib3Poster
from chalicelib.bootstrap import Services
from chalicelib.domain.fate import held_out
from chalicelib.domain.repairs import GROUP_REFETCH
from chalicelib.domain.signals import (
    ADDED,
    CHECKIN,
    ENROLLED,
    GROUP_JOIN_WAY,
    GROUP_JOINED,
    GROUP_LEFT,
    ORDER,
    PHONE_NOTED,
    REPINNED,
    REPLY,
    STAGE,
    TAG,
    TRANSFER_FAILED,
)
from chalicelib.domain.silence import ACTIVITY_SIGNALS
from chalicelib.domain.sop import Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.webhooks import SIGNAL_TYPES as WEBHOOK_SIGNALS
from chalicelib.ports import Clock, IdGenerator, SchedulerPort, SecretStore, ShardDispatcher, WeComPort
from chalicelib.ports.blobs import BlobStore
from chalicelib.ports.contacts import ContactListPort
from chalicelib.ports.handover import HandoverPort
from chalicelib.services import alerts as staff_alerts
from chalicelib.services.alerts import AlertService
from chalicelib.services.bulk import BulkEnrollment
from chalicelib.services.business_events import EventService
from chalicelib.services.callbacks import CallbackCodec, CallbackService, TenantCache
from chalicelib.services.channels import ChannelService
from chalicelib.services.console_auth import ConsoleAuth
from chalicelib.services.contact_import import ContactImport
from chalicelib.services.contact_sync import ContactSync
from chalicelib.services.crm_import import CrmImportService, CrmMatcher
from chalicelib.services.customers import CustomerService
from chalicelib.services.dashboard import DashboardService
from chalicelib.services.group_codes import GroupCodeService
from chalicelib.services.group_content import GroupContentService
from chalicelib.services.group_facts import GroupFactsService
from chalicelib.services.group_plans import GroupPlanService
from chalicelib.services.groups.events import GroupEvents
from chalicelib.services.groups.members import MemberBook
from chalicelib.services.groups.setup import GroupService
from chalicelib.services.groups.sync import GroupSync
from chalicelib.services.handover import HandoverService  # 客户交接 (issue 14 §2)
from chalicelib.services.intake import IntakeService
from chalicelib.services.intake_catchup import IntakeCatchUp
from chalicelib.services.library import ContentService
from chalicelib.services.library_send import ContentSender
from chalicelib.services.metrics import MetricsRecorder
from chalicelib.services.metrics_service import MetricsService
from chalicelib.services.migration import PlanMigration
from chalicelib.services.my_day import MyDayService
from chalicelib.services.plans import PlanService
from chalicelib.services.points import PointsService
from chalicelib.services.repairs import RepairQueue, Repairs
from chalicelib.services.scripts import ScriptService
from chalicelib.services.sidebar import SidebarService
from chalicelib.services.signals import SignalBus
from chalicelib.services.silence import SilenceService
from chalicelib.services.sop import SopEngine
from chalicelib.services.sop.fanout import FanOut
from chalicelib.services.sop.simulation import Simulator
from chalicelib.services.staff import StaffService
from chalicelib.services.staff_tasks import StaffTaskService
from chalicelib.services.tags import TagService
from chalicelib.services.task_sync import TaskSyncService
from chalicelib.services.tenants import AdminToken, TenantService
from chalicelib.services.triggers import TriggerService
from chalicelib.services.webhook_outbox import WebhookOutbox
from chalicelib.services.webhooks import WebhookService
from chalicelib.services.wecom_stats import WeComStatsService
from chalicelib.settings import OFFLINE_STAGES, Settings

if TYPE_CHECKING:
    from chalicelib.adapters.health import HealthChecker
    from chalicelib.adapters.idempotency import IdempotentRequests


def holdout_of(plans: PlanService) -> Callable[[Tenant, Enrollment], bool]:
    """Whether an enrollment's customer is in its plan version's holdout (对照组): the arm an order converts in,
    decided as the fate decides it (domain/fate.held_out)."""

    def held(tenant: Tenant, enrollment: Enrollment) -> bool:
        plan = plans.plan_version(tenant.tenant_id, enrollment.plan_id, enrollment.version)
        return plan is not None and held_out(plan, enrollment.subject, tenant.tenant_id)

    return held


def subscribe(
    bus: SignalBus,
    *,
    sop: SopEngine,
    silence: SilenceService,
    triggers: TriggerService,
    group_facts: GroupFactsService | None = None,
    group_codes: GroupCodeService | None = None,
    points: PointsService | None = None,
    metrics: MetricsRecorder | None = None,
    alerts: AlertService | None = None,
    crm: CrmMatcher | None = None,
    webhooks: WebhookOutbox | None = None,
) -> None:
    """Who hears what. Order matters within a type: an order's exit rules end enrollments before the silence
    timers move and before the stage it causes enrolls anywhere new. Check-ins hear check-ins and group messages
    (those with a chat_id; the service ignores the rest). The metrics hear first, so an order finds the buyer's
    enrollments as they were when they bought (before its exit rules end them)."""
    if metrics is not None:
        bus.subscribe(MetricsRecorder.TYPES, "metrics", metrics)
    bus.subscribe((ORDER, REPLY), "sop.exit_rules", lambda t, cid, s: sop.on_signal(t.tenant_id, cid, s))
    bus.subscribe((ENROLLED, REPINNED, *sorted(ACTIVITY_SIGNALS)), "silence", silence.on_signal)
    if crm is not None:  # a past buyer's CRM orders land before any add-triggered plan enrolls them (issue 14 §5)
        bus.subscribe((ADDED, PHONE_NOTED), "crm.match", crm.on_signal)
    bus.subscribe((STAGE, TAG, ADDED), "triggers", triggers.on_signal)
    if group_facts is not None:  # group messages and check-ins (a chat_id), joins and leaves: counted once each
        facts = (REPLY, CHECKIN, GROUP_JOINED, GROUP_JOIN_WAY, GROUP_LEFT)  # a join's way: its count toward a code
        bus.subscribe(facts, "group_facts", group_facts.on_signal)
    if group_codes is not None:  # a join that fills a group rotates its code (services/group_codes.py)
        bus.subscribe((GROUP_JOINED,), "group_codes.rotation", group_codes.on_signal)
    if points is not None:
        bus.subscribe((CHECKIN, REPLY), "points.checkins", points.on_signal)
    if alerts is not None:  # hot leads and alerts to staff in WeCom (issue 13): replies, orders, losses, escalations
        bus.subscribe(staff_alerts.TYPES, "alerts", alerts.on_signal)
    if webhooks is not None:  # outbound webhooks (issue 14 §6): last, only an outbox write, never a call out
        bus.subscribe(WEBHOOK_SIGNALS, "webhooks", webhooks.on_signal)


def wire(
    settings: Settings,
    *,
    store: Any,
    wecom: WeComPort,
    clock: Clock,
    ids: IdGenerator,
    codec: CallbackCodec,
    scheduler: SchedulerPort,
    health: HealthChecker | None = None,
    idempotency: IdempotentRequests | None = None,
    shards: ShardDispatcher | None = None,
    repair_queue: RepairQueue | None = None,
    secrets: SecretStore | None = None,
    blobs: BlobStore | None = None,
) -> Services:
    """Wire services from the given ports. Shared by the real bootstrap and by tests with fakes. ``shards``: where
    a large fire's shards go (None: every bucket fires in one invocation); ``repair_queue``: where a callback's
    unfinished WeCom work goes (None: it is only logged); ``secrets``: where the admin token is read (SSM deployed)."""
    bus = SignalBus()
    tags = TagService(store, wecom, clock, ids)
    tenant_cache = TenantCache(store, settings.tenant_cache_seconds)
    plans = PlanService(store, clock, ids)
    fanout = FanOut(shards, bound=settings.fire_shard_size)
    # The content and script libraries: items and scripts resolved as a step or a welcome goes out (media re-uploaded).
    content = ContentService(store, blobs, clock, ids)
    scripts = ScriptService(store, clock, ids, content=content)
    sender = ContentSender(store, blobs, wecom, clock, store.get_tenant)
    sop = SopEngine(store, plans, scheduler, wecom, clock, ids, signals=bus, fanout=fanout, library=sender)
    silence = SilenceService(store, sop, plans, bus, clock, ids)
    triggers = TriggerService(store, sop)
    group_facts = GroupFactsService(store, clock)
    group_codes = GroupCodeService(store, wecom, clock, ids)
    staff_tasks = StaffTaskService(store, clock, signals=bus)
    points = PointsService(store, clock, staff_tasks, signals=bus)
    recorder = MetricsRecorder(store, holdout=holdout_of(plans))
    alerts = AlertService(store, wecom, clock, console_url=settings.console_url)
    # Business events tell the bus what happened; a positive reply's follow-up task goes to staff tasks.
    events = EventService(store, clock, bus, staff_tasks, tenants=tenant_cache)
    crm = CrmImportService(store, clock, events)  # 订单导入: its orders reach customers as business events
    offline = settings.stage in OFFLINE_STAGES  # receivers on loopback (plain http) only offline
    outbox = WebhookOutbox(store, Urllib3Poster(allow_private=offline), clock, scheduler)
    subscribe(
        bus,
        sop=sop,
        silence=silence,
        triggers=triggers,
        group_facts=group_facts,
        group_codes=group_codes,
        points=points,
        metrics=recorder,
        alerts=alerts,
        crm=CrmMatcher(crm, store),
        webhooks=outbox,
    )
    # 客户交接 (issue 14 §2): WeCom's transfer_fail callback settles its customer's hand-over. The WeCom client
    # implements HandoverPort too (adapters/wecom/handover.py).
    handover = HandoverService(store, cast(HandoverPort, wecom), clock, ids, staff_tasks, bus)
    bus.subscribe((TRANSFER_FAILED,), "handover", handover.on_signal)
    wecom_stats = WeComStatsService(staff=store, store=store, wecom=wecom, clock=clock)
    metrics = MetricsService(store, clock, wecom_stats, recorder)
    repairs = None if repair_queue is None else Repairs(store, wecom, clock, repair_queue)
    budget = settings.callback_budget_seconds
    # Customer groups: callbacks, members and the sync share one member book; the group re-read is a repair kind.
    book = MemberBook(store, bus)
    group_events = GroupEvents(store, wecom, book, clock, repairs=repairs)
    group_sync = GroupSync(store, wecom, book, clock, ids)
    if repairs is not None:
        repairs.register(GROUP_REFETCH, group_events.repair)
    intake = IntakeService(
        store, wecom, clock, enroller=sop, signals=bus, tasks=staff_tasks, repairs=repairs, budget_seconds=budget
    )
    # Connecting a tenant starts its first syncs (jobs only: the backstop, or ops' start, makes the WeCom calls):
    # its existing groups, and its staff's existing contacts (issue 14 §1).
    contacts = cast(ContactListPort, wecom)  # the client's bulk reads (adapters/wecom/contact_list.py)
    importer = ContactImport(store, wecom, clock, intake.handle, bus)
    contact_sync = ContactSync(store, contacts, wecom, importer, intake.handle, clock, ids)
    first_syncs = (group_sync.first_sync, contact_sync.first_sync)
    tenants = TenantService(store, clock, ids, cache=tenant_cache, on_created=first_syncs)
    intake.library = sender
    return Services(
        settings=settings,
        store=store,
        wecom=wecom,
        clock=clock,
        ids=ids,
        signals=bus,
        tenants=tenants,
        tenant_cache=tenant_cache,
        admin_token=AdminToken(secrets, clock, offline_token=settings.admin_token),
        staff=StaffService(store, clock),
        tags=tags,
        channels=ChannelService(store, tags, wecom, clock, ids),
        customers=CustomerService(store, wecom, clock, signals=bus, groups=book, crm=store),
        intake=intake,
        callbacks=CallbackService(tenant_cache, codec, intake, clock, budget_seconds=budget, groups=group_events),
        plans=plans,
        events=events,
        sop=sop,
        migration=PlanMigration(store, plans, sop.kernel, bus, clock),
        bulk=BulkEnrollment(store, store, plans, sop.enrollments, sop.kernel, clock, ids),
        task_sync=TaskSyncService(store, wecom, clock, signals=bus),
        silence=silence,
        triggers=triggers,
        staff_tasks=staff_tasks,
        simulation=Simulator(plans, store),
        catchup=IntakeCatchUp(store, sop, clock),
        group_facts=group_facts,
        groups=GroupService(store),
        group_content=GroupContentService(store, clock, ids),
        group_codes=group_codes,
        points=points,
        group_plans=GroupPlanService(store, plans, sop.kernel, clock, ids),
        group_events=group_events,
        group_sync=group_sync,
        metrics=metrics,
        wecom_stats=wecom_stats,
        dashboard=DashboardService(store, tenant_cache, clock, ids, metrics),
        alerts=alerts,
        my_day=MyDayService(store, clock, staff_tasks, blobs),
        console_auth=ConsoleAuth(
            store,
            tenants,
            wecom,
            clock,
            ids,
            console_url=settings.console_url,
            oauth_url=settings.wecom_oauth_url,
        ),
        sidebar=SidebarService(
            store, wecom, clock, ids, console_url=settings.console_url, jssdk_url=settings.jssdk_url, scripts=scripts
        ),
        health=health,
        idempotency=idempotency,
        repairs=repairs,
        blobs=blobs,
        content=content,
        scripts=scripts,
        crm=crm,
        webhooks=WebhookService(store, clock, ids, outbox, offline=offline),
        contact_sync=contact_sync,
    )
