"""Every DynamoDB repository, one per aggregate, built once over the connection and the table (the store's
``repos``: chalicelib/adapters/dynamodb/store.py forwards to them)."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.connection import Connection

from chalicelib.adapters.dynamodb.alerts import AlertRepository
from chalicelib.adapters.dynamodb.business_events import FactRepository
from chalicelib.adapters.dynamodb.channels import ChannelRepository
from chalicelib.adapters.dynamodb.console import ConsoleRepository
from chalicelib.adapters.dynamodb.crm import CrmRepository
from chalicelib.adapters.dynamodb.customers import CustomerRepository
from chalicelib.adapters.dynamodb.dashboard import DashboardLinkRepository
from chalicelib.adapters.dynamodb.delivery import DeliveryRepository
from chalicelib.adapters.dynamodb.enrollments import EnrollmentRepository
from chalicelib.adapters.dynamodb.erasure import ErasureRepository
from chalicelib.adapters.dynamodb.group_codes import GroupCodeRepository
from chalicelib.adapters.dynamodb.group_content import GroupContentRepository
from chalicelib.adapters.dynamodb.group_facts import GroupFactRepository
from chalicelib.adapters.dynamodb.group_members import GroupMemberRepository
from chalicelib.adapters.dynamodb.group_quota import GroupQuotaRepository
from chalicelib.adapters.dynamodb.groups import GroupRepository
from chalicelib.adapters.dynamodb.jobs import JobRepository
from chalicelib.adapters.dynamodb.library import LibraryRepository
from chalicelib.adapters.dynamodb.metrics import MetricsRepository
from chalicelib.adapters.dynamodb.plans import PlanRepository
from chalicelib.adapters.dynamodb.points import PointsRepository
from chalicelib.adapters.dynamodb.silence import SilenceRepository
from chalicelib.adapters.dynamodb.staff import StaffRepository, TagRepository
from chalicelib.adapters.dynamodb.tasks import StaffTaskRepository
from chalicelib.adapters.dynamodb.tenants import TenantRepository
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.adapters.dynamodb.touches import TouchRepository
from chalicelib.adapters.dynamodb.webhooks import WebhookRepository
from chalicelib.adapters.dynamodb.wecom_stats import WeComStatsRepository


@dataclass(frozen=True)
class Repositories:
    """Every repository, one per aggregate, each given the connection and the table."""

    tenants: TenantRepository
    staff: StaffRepository
    tags: TagRepository
    channels: ChannelRepository
    customers: CustomerRepository
    erasure: ErasureRepository
    plans: PlanRepository
    silence: SilenceRepository
    timeline: TimelineRepository
    facts: FactRepository
    enrollments: EnrollmentRepository
    jobs: JobRepository
    touches: TouchRepository
    tasks: StaffTaskRepository
    delivery: DeliveryRepository
    groups: GroupRepository
    group_facts: GroupFactRepository
    group_codes: GroupCodeRepository
    group_content: GroupContentRepository
    points: PointsRepository
    group_quota: GroupQuotaRepository
    group_members: GroupMemberRepository
    metrics: MetricsRepository
    wecom_stats: WeComStatsRepository
    dashboard_links: DashboardLinkRepository
    alerts: AlertRepository
    console: ConsoleRepository
    library: LibraryRepository
    crm: CrmRepository  # CRM import (撞单 against past orders, issue 14 §5)
    webhooks: WebhookRepository

    @classmethod
    def build(cls, connection: Connection, table_name: str) -> Repositories:
        timeline = TimelineRepository(connection, table_name)
        return cls(
            tenants=TenantRepository(connection, table_name),
            staff=StaffRepository(connection, table_name),
            tags=TagRepository(connection, table_name),
            channels=ChannelRepository(connection, table_name),
            customers=CustomerRepository(connection, table_name),
            erasure=ErasureRepository(connection, table_name),
            plans=PlanRepository(connection, table_name),
            silence=SilenceRepository(connection, table_name),
            timeline=timeline,
            facts=FactRepository(connection, table_name, timeline),
            enrollments=EnrollmentRepository(connection, table_name, timeline),
            jobs=JobRepository(connection, table_name),
            touches=TouchRepository(connection, table_name, timeline),
            tasks=StaffTaskRepository(connection, table_name),
            delivery=DeliveryRepository(connection, table_name),
            groups=GroupRepository(connection, table_name),
            group_facts=GroupFactRepository(connection, table_name),
            group_codes=GroupCodeRepository(connection, table_name),
            group_content=GroupContentRepository(connection, table_name),
            points=PointsRepository(connection, table_name),
            group_quota=GroupQuotaRepository(connection, table_name),
            group_members=GroupMemberRepository(connection, table_name),
            metrics=MetricsRepository(connection, table_name),
            wecom_stats=WeComStatsRepository(connection, table_name),
            dashboard_links=DashboardLinkRepository(connection, table_name),
            alerts=AlertRepository(connection, table_name),
            console=ConsoleRepository(connection, table_name),
            library=LibraryRepository(connection, table_name),
            crm=CrmRepository(connection, table_name),
            webhooks=WebhookRepository(connection, table_name),
        )
