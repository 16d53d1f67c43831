"""Builds the real adapters and services once per settings (cached across warm invocations).

Heavy modules (boto3/PynamoDB, the WeCom client) are imported in ``_build_real``, and the services in ``build``
(chalicelib/wiring.py), on first use, never when ``app`` is imported: a cold start that answers a health check or a
bad request never pays for them.
Tests either run this against moto/DynamoDB Local or install fakes with ``override``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.ports import Clock, IdGenerator, SchedulerPort, SecretStore, ShardDispatcher, WeComPort
from chalicelib.ports.blobs import BlobStore
from chalicelib.settings import LOCAL_STAGE, SECRETS_SSM, Settings, get_settings

if TYPE_CHECKING:  # the services are imported when they are built (chalicelib/wiring.py), not with the app
    from chalicelib.adapters.health import HealthChecker
    from chalicelib.adapters.idempotency import IdempotentRequests
    from chalicelib.services.alerts import AlertService
    from chalicelib.services.bulk import BulkEnrollment
    from chalicelib.services.business_events import EventService
    from chalicelib.services.callbacks import CallbackCodec, CallbackService, TenantCache
    from chalicelib.services.channels import ChannelService
    from chalicelib.services.console_auth import ConsoleAuth
    from chalicelib.services.contact_sync import ContactSync
    from chalicelib.services.crm_import import CrmImportService
    from chalicelib.services.customers import CustomerService
    from chalicelib.services.dashboard import DashboardService
    from chalicelib.services.group_codes import GroupCodeService
    from chalicelib.services.group_content import GroupContentService
    from chalicelib.services.group_facts import GroupFactsService
    from chalicelib.services.group_plans import GroupPlanService
    from chalicelib.services.groups.events import GroupEvents
    from chalicelib.services.groups.setup import GroupService
    from chalicelib.services.groups.sync import GroupSync
    from chalicelib.services.intake import IntakeService
    from chalicelib.services.intake_catchup import IntakeCatchUp
    from chalicelib.services.library import ContentService
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
    from chalicelib.services.sop.simulation import Simulator
    from chalicelib.services.staff import StaffService
    from chalicelib.services.staff_tasks import StaffTaskService
    from chalicelib.services.tags import TagService
    from chalicelib.services.task_sync import TaskSyncService
    from chalicelib.services.tenants import AdminToken, TenantService
    from chalicelib.services.triggers import TriggerService
    from chalicelib.services.webhooks import WebhookService
    from chalicelib.services.wecom_stats import WeComStatsService


@dataclass(frozen=True)
class Services:
    """Every service, built once with its ports. Routes and jobs reach services only through this."""

    settings: Settings
    store: Any  # the repositories (adapters/dynamodb/store.py, or tests/fakes/store.py); services see their ports
    wecom: WeComPort
    clock: Clock
    ids: IdGenerator
    signals: SignalBus
    tenants: TenantService
    tenant_cache: TenantCache
    admin_token: AdminToken  # the platform admin's token (SSM deployed)
    staff: StaffService
    tags: TagService
    channels: ChannelService
    customers: CustomerService
    intake: IntakeService
    callbacks: CallbackService
    plans: PlanService
    events: EventService
    sop: SopEngine
    migration: PlanMigration
    bulk: BulkEnrollment
    task_sync: TaskSyncService
    silence: SilenceService
    triggers: TriggerService
    staff_tasks: StaffTaskService
    simulation: Simulator
    catchup: IntakeCatchUp
    group_facts: GroupFactsService  # group facts for metrics and member activity (issue 10 §4, §7)
    # Groups' setup, naming, content and live codes (issue 10 §2-§3).
    groups: GroupService
    group_content: GroupContentService
    group_codes: GroupCodeService
    points: PointsService
    group_plans: GroupPlanService  # enrolling groups into group plans (camp calendars, 群发)
    group_events: GroupEvents
    group_sync: GroupSync
    metrics: MetricsService  # funnel metrics (issue 11): views, spend, rebuild
    wecom_stats: WeComStatsService  # WeCom's own statistics, fetched daily, for the cross-check
    dashboard: DashboardService  # dashboard links and the page's read (issue 11 §4)
    alerts: AlertService  # alerts to staff in WeCom and hot leads (issue 13)
    my_day: MyDayService  # a staff member's day: tasks, follow-ups, hot leads (the console's 我的今天)
    console_auth: ConsoleAuth  # the console's sign-in and sessions (issue 13 §1)
    sidebar: SidebarService  # the chat sidebar (聊天工具栏, issue 13 §3)
    content: ContentService  # the content library (素材库): items, their files, references checked on save
    scripts: ScriptService  # the script library (话术库): by stage and scene, for the sidebar
    crm: CrmImportService  # CRM import (订单导入): past orders matched by phone (issue 14 §5)
    health: HealthChecker | None = None
    idempotency: IdempotentRequests | None = None
    repairs: Repairs | None = None  # None: no repair queue wired (unit tests that do not need one)
    blobs: BlobStore | None = None  # attachment bytes (S3); None: no bucket wired (attachments are refused)
    webhooks: WebhookService | None = None  # outbound webhooks (issue 14 §6); its sender is ``webhooks.outbox``
    contact_sync: ContactSync | None = None  # the first contact sync and the daily reconcile (issue 14 §1)


_built: dict[Settings, Services] = {}
_override: Services | None = None


def build(
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
    """Wire services from the given ports (chalicelib/wiring.py). Shared by the real bootstrap and by tests with
    fakes. The services' modules are imported here, on the first build, not with ``app``: a cold start that answers a
    health check or a bad request never pays for them (about 70 ms of ``import app``)."""
    from chalicelib.wiring import wire

    return wire(
        settings,
        store=store,
        wecom=wecom,
        clock=clock,
        ids=ids,
        codec=codec,
        scheduler=scheduler,
        health=health,
        idempotency=idempotency,
        shards=shards,
        repair_queue=repair_queue,
        secrets=secrets,
        blobs=blobs,
    )


def _build_real(settings: Settings) -> Services:
    # Imported here, not at the top: these pull in boto3, PynamoDB and urllib3, which `import app` must not pay for.
    from chalicelib.adapters.blobs import S3Blobs
    from chalicelib.adapters.clock import FileClock, RandomIds, SystemClock
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.repairs import TableRepairQueue
    from chalicelib.adapters.dynamodb.store import DynamoStore
    from chalicelib.adapters.health import HealthChecker
    from chalicelib.adapters.idempotency import IdempotentRequests
    from chalicelib.adapters.repair_queue import SqsRepairQueue
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.adapters.secrets import SsmSecrets
    from chalicelib.adapters.shards import LambdaShards, ThreadedShards
    from chalicelib.adapters.wecom.client import WeComClient
    from chalicelib.adapters.wecom.codec import WXCallbackCodec
    from chalicelib.adapters.wecom.transport import Urllib3Transport

    connection = configure(settings)
    # Deployed, tenant credentials and the admin token are SSM SecureStrings; offline stages may keep them in the
    # table and the environment (settings.secrets: docs/deploy.md, "Secrets").
    secrets = SsmSecrets.for_settings(settings) if settings.secrets == SECRETS_SSM else None
    store = DynamoStore(connection, settings.table_name, secrets=secrets)
    wecom = WeComClient(Urllib3Transport(settings.wecom_base_url), timeout=settings.wecom_timeout_seconds)
    codec = WXCallbackCodec(max_bytes=settings.max_callback_bytes)
    # Deployed, a large fire's shards are asynchronous invocations of the fire function; locally, threads.
    local = settings.stage == LOCAL_STAGE
    shards = ThreadedShards() if local else LambdaShards.for_settings(settings)
    clock = FileClock(settings.movable_clock) if settings.movable_clock else SystemClock()
    # Deployed, the repair queue is SQS (SIYU_REPAIR_QUEUE_URL); without one (the local stack) it is in the table.
    repair_queue = SqsRepairQueue.for_settings(settings) if settings.repair_queue_url else TableRepairQueue(clock)
    built = build(
        settings,
        store=store,
        wecom=wecom,
        clock=clock,
        ids=RandomIds(),
        codec=codec,
        health=HealthChecker(settings, store),
        idempotency=IdempotentRequests(settings),
        scheduler=EventBridgeScheduler.for_settings(settings),
        shards=shards,
        repair_queue=repair_queue,
        secrets=secrets,
        blobs=S3Blobs.for_settings(settings),
    )
    if isinstance(shards, ThreadedShards):
        shards.bind(built.sop.fire_shard)
    return built


def services() -> Services:
    if _override is not None:
        return _override
    settings = get_settings()
    if settings not in _built:
        _built[settings] = _build_real(settings)
    return _built[settings]


def override(svc: Services | None) -> None:
    """Install (or with None, remove) a prebuilt Services — tests use it to run routes against fakes."""
    global _override
    _override = svc


def reset() -> None:
    _built.clear()
