"""Builds the real adapters and services once per settings (cached across warm invocations).

Heavy modules (boto3/PynamoDB, the WeCom client) are imported here, on first use, never when ``app`` is imported.
Tests either run this against moto/DynamoDB Local or install fakes with ``override``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.settings import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    store: Any
    wecom: Any
    clock: Any
    ids: Any
    tenants: Any
    tenant_cache: Any
    staff: Any
    tags: Any
    channels: Any
    customers: Any
    intake: Any
    callbacks: Any
    health: Any
    idempotency: Any = None
    plans: Any = None
    events: Any = None
    sop: Any = None
    migration: Any = None
    bulk: Any = None
    task_sync: Any = None
    lifecycle: Any = None
    staff_tasks: Any = None
    simulation: Any = None


_built: dict[Settings, Services] = {}
_override: Services | None = None


def build(
    settings: Settings,
    *,
    store: Any,
    wecom: Any,
    clock: Any,
    ids: Any,
    codec: Any,
    health: Any = None,
    idempotency: Any = None,
    signals: Any = None,
    tasks: Any = None,
    scheduler: Any = None,
) -> Services:
    """Wire services from the given ports. Shared by the real bootstrap and by tests with fakes."""
    from chalicelib.services.bulk import BulkEnrollment
    from chalicelib.services.business_events import EventService, NoSignals, NoTasks
    from chalicelib.services.callbacks import CallbackService, TenantCache
    from chalicelib.services.channels import ChannelService
    from chalicelib.services.customers import CustomerService
    from chalicelib.services.intake import IntakeService
    from chalicelib.services.lifecycle import for_engine
    from chalicelib.services.migration import PlanMigration
    from chalicelib.services.plans import PlanService
    from chalicelib.services.sop import SopEngine
    from chalicelib.services.sop.simulation import Simulator
    from chalicelib.services.staff import StaffService
    from chalicelib.services.staff_tasks import StaffTaskService
    from chalicelib.services.tags import TagService
    from chalicelib.services.task_sync import TaskSyncService
    from chalicelib.services.tenants import TenantService

    tags = TagService(store, wecom, clock, ids)
    tenant_cache = TenantCache(store, settings.tenant_cache_seconds)
    plans = PlanService(store, clock, ids)
    sop = SopEngine(store, plans, scheduler, wecom, clock, ids) if scheduler is not None else None
    staff_tasks = StaffTaskService(store, clock)
    intake = IntakeService(store, wecom, clock, enroller=sop, triggers=for_engine(sop) if sop is not None else None)
    return Services(
        settings=settings,
        store=store,
        wecom=wecom,
        clock=clock,
        ids=ids,
        tenants=TenantService(store, clock, ids, cache=tenant_cache),
        tenant_cache=tenant_cache,
        staff=StaffService(store, clock),
        tags=tags,
        channels=ChannelService(store, tags, wecom, clock, ids),
        customers=CustomerService(store, wecom, clock, triggers=for_engine(sop) if sop is not None else None),
        intake=intake,
        callbacks=CallbackService(tenant_cache, codec, intake, clock),
        health=health,
        idempotency=idempotency,
        plans=plans,
        # The SOP engine hears business events (exits, silence resets) and takes follow-up tasks.
        events=EventService(
            store, clock, signals or sop or NoSignals(), tasks or staff_tasks or NoTasks(), tenants=tenant_cache
        ),
        sop=sop,
        migration=PlanMigration(store, plans, sop.kernel, sop.lifecycle, clock) if sop is not None else None,
        bulk=(
            BulkEnrollment(store, store, plans, sop.enrollments, sop.kernel, clock, ids) if sop is not None else None
        ),
        staff_tasks=staff_tasks,
        simulation=Simulator(plans),
        task_sync=TaskSyncService(store, wecom, clock),
        lifecycle=for_engine(sop) if sop is not None else None,
    )


def _build_real(settings: Settings) -> Services:
    from chalicelib.adapters.clock import FileClock, RandomIds, SystemClock
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.store import DynamoStore
    from chalicelib.adapters.health import HealthChecker
    from chalicelib.adapters.idempotency import IdempotentRequests
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.adapters.wecom.client import WeComClient
    from chalicelib.adapters.wecom.codec import WXCallbackCodec
    from chalicelib.adapters.wecom.transport import Urllib3Transport

    connection = configure(settings)
    store = DynamoStore(connection, settings.table_name)
    wecom = WeComClient(Urllib3Transport(settings.wecom_base_url), timeout=settings.wecom_timeout_seconds)
    codec = WXCallbackCodec(max_bytes=settings.max_callback_bytes)
    return build(
        settings,
        store=store,
        wecom=wecom,
        clock=FileClock(settings.movable_clock) if settings.movable_clock else SystemClock(),
        ids=RandomIds(),
        codec=codec,
        health=HealthChecker(settings, store),
        idempotency=IdempotentRequests(settings),
        scheduler=EventBridgeScheduler.for_settings(settings),
    )


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
