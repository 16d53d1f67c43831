"""The composition root of the DynamoDB storage: one repository per aggregate over one table (docs/data-model.md).

``DynamoStore`` builds the repositories (``store.repos``) and, so the services keep their one ``store`` for now,
forwards each repository method by an explicit one-line delegation. There are no mixins: a repository that needs
another (enrollments and touches write the customer's timeline) is given it when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

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
from chalicelib.adapters.dynamodb.repositories import Repositories
from chalicelib.adapters.dynamodb.silence import SilenceRepository
from chalicelib.adapters.dynamodb.staff import StaffRepository, TagRepository
from chalicelib.adapters.dynamodb.tasks import StaffTaskRepository
from chalicelib.adapters.dynamodb.tenants import TenantRepository
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.adapters.dynamodb.touches import TouchRepository
from chalicelib.adapters.dynamodb.webhooks import WebhookRepository
from chalicelib.adapters.dynamodb.wecom_stats import WeComStatsRepository
from chalicelib.ports import SecretStore

P = ParamSpec("P")
R = TypeVar("R")


def _via(repo: str, method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[DynamoStore, P], R]:
    """One explicit delegation: ``store.<name>(…)`` is ``store.repos.<repo>.<name>(…)`` (typed as the method)."""
    name = method.__name__

    def delegate(self: DynamoStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = getattr(getattr(self.repos, repo), name)(*args, **kwargs)
        return result

    delegate.__name__ = delegate.__qualname__ = name
    delegate.__doc__ = method.__doc__
    delegate.__wrapped__ = method  # type: ignore[attr-defined]  # what it forwards to (checked by the contract)
    return delegate


class DynamoStore:
    """Takes the low-level connection built by ``models.configure`` and the table name."""

    def __init__(self, connection: Connection, table_name: str, *, secrets: SecretStore | None = None) -> None:
        """``secrets``: where tenant credentials live (SSM deployed); None keeps them in the item (offline)."""
        self.connection = connection
        self.table = table_name
        self.repos = Repositories.build(connection, table_name)
        self.repos.tenants.secrets = self.repos.webhooks.secrets = secrets

    @property
    def client(self) -> Any:
        return self.connection.client

    # --- tenants and tokens ---------------------------------------------------------------------------------------
    create_tenant = _via("tenants", TenantRepository.create_tenant)
    get_tenant = _via("tenants", TenantRepository.get_tenant)
    put_tenant = _via("tenants", TenantRepository.put_tenant)
    list_tenants = _via("tenants", TenantRepository.list_tenants)
    migrate_secrets = _via("tenants", TenantRepository.migrate_secrets)
    put_token = _via("tenants", TenantRepository.put_token)
    get_token = _via("tenants", TenantRepository.get_token)
    list_tokens = _via("tenants", TenantRepository.list_tokens)
    delete_token = _via("tenants", TenantRepository.delete_token)
    record_token_use = _via("tenants", TenantRepository.record_token_use)

    # --- staff and staff-day counters; tags -----------------------------------------------------------------------
    create_staff = _via("staff", StaffRepository.create_staff)
    put_staff = _via("staff", StaffRepository.put_staff)
    get_staff = _via("staff", StaffRepository.get_staff)
    list_staff = _via("staff", StaffRepository.list_staff)
    delete_staff = _via("staff", StaffRepository.delete_staff)
    rename_counter = _via("staff", StaffRepository.rename_counter)
    taxonomy = _via("tags", TagRepository.taxonomy)
    put_tag_group = _via("tags", TagRepository.put_tag_group)
    delete_tag_group = _via("tags", TagRepository.delete_tag_group)

    # --- channels -------------------------------------------------------------------------------------------------
    create_channel = _via("channels", ChannelRepository.create_channel)
    get_channel = _via("channels", ChannelRepository.get_channel)
    list_channels = _via("channels", ChannelRepository.list_channels)
    put_channel = _via("channels", ChannelRepository.put_channel)
    delete_channel = _via("channels", ChannelRepository.delete_channel)
    mark_channel_full = _via("channels", ChannelRepository.mark_channel_full)

    # --- customer groups (客户群) -------------------------------------------------------------------------------------
    get_group = _via("groups", GroupRepository.get_group)
    get_groups = _via("groups", GroupRepository.get_groups)
    list_groups = _via("groups", GroupRepository.list_groups)
    save_group_state = _via("groups", GroupRepository.save_group_state)
    save_group_setup = _via("groups", GroupRepository.save_group_setup)

    # --- group live codes (群活码), group content and the naming template ---------------------------------------------
    create_group_code = _via("group_codes", GroupCodeRepository.create_group_code)
    get_group_code = _via("group_codes", GroupCodeRepository.get_group_code)
    list_group_codes = _via("group_codes", GroupCodeRepository.list_group_codes)
    save_group_code = _via("group_codes", GroupCodeRepository.save_group_code)
    update_group_code = _via("group_codes", GroupCodeRepository.update_group_code)
    delete_group_code = _via("group_codes", GroupCodeRepository.delete_group_code)
    group_code_of_chat = _via("group_codes", GroupCodeRepository.group_code_of_chat)
    group_codes_of_chats = _via("group_codes", GroupCodeRepository.group_codes_of_chats)
    create_group_content = _via("group_content", GroupContentRepository.create_group_content)
    get_group_content = _via("group_content", GroupContentRepository.get_group_content)
    list_group_content = _via("group_content", GroupContentRepository.list_group_content)
    save_group_content = _via("group_content", GroupContentRepository.save_group_content)
    delete_group_content = _via("group_content", GroupContentRepository.delete_group_content)
    get_group_naming = _via("group_content", GroupContentRepository.get_group_naming)
    put_group_naming = _via("group_content", GroupContentRepository.put_group_naming)
    # --- group plans: a group's quota of group messages (g4) ----------------------------------------------------------
    take_group_quota = _via("group_quota", GroupQuotaRepository.take_group_quota)
    group_quota = _via("group_quota", GroupQuotaRepository.group_quota)
    # --- group members, their history, group syncs ----------------------------------------------------------------
    get_members = _via("group_members", GroupMemberRepository.get_members)
    list_members = _via("group_members", GroupMemberRepository.list_members)
    put_members = _via("group_members", GroupMemberRepository.put_members)
    add_member_change = _via("group_members", GroupMemberRepository.add_member_change)
    member_changes = _via("group_members", GroupMemberRepository.member_changes)
    member_chats = _via("group_members", GroupMemberRepository.member_chats)
    erase_group_member = _via("group_members", GroupMemberRepository.erase_group_member)
    claim_group_sync = _via("group_members", GroupMemberRepository.claim_group_sync)
    save_group_sync = _via("group_members", GroupMemberRepository.save_group_sync)
    get_group_sync = _via("group_members", GroupMemberRepository.get_group_sync)
    current_group_sync = _via("group_members", GroupMemberRepository.current_group_sync)

    # --- customers, aliases, intake, referral links ---------------------------------------------------------------
    get_customer = _via("customers", CustomerRepository.get_customer)
    get_customers = _via("customers", CustomerRepository.get_customers)
    list_customers = _via("customers", CustomerRepository.list_customers)
    save_customer = _via("customers", CustomerRepository.save_customer)
    create_customer = _via("customers", CustomerRepository.create_customer)
    save_event = _via("customers", CustomerRepository.save_event)
    load_intake = _via("customers", CustomerRepository.load_intake)
    load_customer = _via("customers", CustomerRepository.load_customer)
    find_alias = _via("customers", CustomerRepository.find_alias)
    put_alias = _via("customers", CustomerRepository.put_alias)
    record_ignored = _via("customers", CustomerRepository.record_ignored)
    claim_referral_code = _via("customers", CustomerRepository.claim_referral_code)
    referral_code_of = _via("customers", CustomerRepository.referral_code_of)
    advance_stage = _via("customers", CustomerRepository.advance_stage)

    # --- erasure --------------------------------------------------------------------------------------------------
    erase_customer = _via("erasure", ErasureRepository.erase_customer)
    erase_touches = _via("erasure", ErasureRepository.erase_touches)

    # --- plans ----------------------------------------------------------------------------------------------------
    create_plan = _via("plans", PlanRepository.create_plan)
    plan_name_owner = _via("plans", PlanRepository.plan_name_owner)
    get_plan = _via("plans", PlanRepository.get_plan)
    list_plans = _via("plans", PlanRepository.list_plans)
    list_plan_versions = _via("plans", PlanRepository.list_plan_versions)
    save_plan = _via("plans", PlanRepository.save_plan)

    # --- silence timers -------------------------------------------------------------------------------------------
    put_silence_timer = _via("silence", SilenceRepository.put_silence_timer)
    silence_timers_of = _via("silence", SilenceRepository.silence_timers_of)
    move_silence_timer = _via("silence", SilenceRepository.move_silence_timer)
    due_silence_timers = _via("silence", SilenceRepository.due_silence_timers)
    claim_silence_timer = _via("silence", SilenceRepository.claim_silence_timer)
    delete_silence_timer = _via("silence", SilenceRepository.delete_silence_timer)
    repin_silence_timer = _via("silence", SilenceRepository.repin_silence_timer)

    # --- timeline and the month quota -----------------------------------------------------------------------------
    timeline_items = _via("timeline", TimelineRepository.timeline_items)
    put_entry = _via("timeline", TimelineRepository.put_entry)
    log_enrollment = _via("timeline", TimelineRepository.log_enrollment)
    touch_tasks = _via("timeline", TimelineRepository.touch_tasks)
    task_heads = _via("timeline", TimelineRepository.task_heads)
    timeline = _via("timeline", TimelineRepository.timeline)
    take_quota = _via("timeline", TimelineRepository.take_quota)

    # --- business events' facts and counters ----------------------------------------------------------------------
    load_event_target = _via("facts", FactRepository.load_event_target)
    record_event = _via("facts", FactRepository.record_event)
    load_exposure_target = _via("facts", FactRepository.load_exposure_target)
    record_exposure = _via("facts", FactRepository.record_exposure)
    get_event_fact = _via("facts", FactRepository.get_event_fact)
    channel_metrics = _via("facts", FactRepository.channel_metrics)

    # --- enrollments, the plans' rosters and listings; bulk jobs --------------------------------------------------
    get_enrollment = _via("enrollments", EnrollmentRepository.get_enrollment)
    get_enrollments = _via("enrollments", EnrollmentRepository.get_enrollments)
    subject_enrollments_in = _via("enrollments", EnrollmentRepository.subject_enrollments_in)
    enrollments_of = _via("enrollments", EnrollmentRepository.enrollments_of)
    subject_enrollments = _via("enrollments", EnrollmentRepository.subject_enrollments)
    put_enrollment = _via("enrollments", EnrollmentRepository.put_enrollment)
    end_enrollment = _via("enrollments", EnrollmentRepository.end_enrollment)
    repin_enrollment = _via("enrollments", EnrollmentRepository.repin_enrollment)
    put_roster = _via("enrollments", EnrollmentRepository.put_roster)
    list_customer_enrollments = _via("enrollments", EnrollmentRepository.list_customer_enrollments)
    list_plan_enrollments = _via("enrollments", EnrollmentRepository.list_plan_enrollments)
    put_job = _via("jobs", JobRepository.put_job)
    get_job = _via("jobs", JobRepository.get_job)
    running_jobs = _via("jobs", JobRepository.running_jobs)
    recent_jobs = _via("jobs", JobRepository.recent_jobs)

    # --- buckets and touches --------------------------------------------------------------------------------------
    register_bucket = _via("touches", TouchRepository.register_bucket)
    plan_buckets = _via("touches", TouchRepository.plan_buckets)
    get_bucket = _via("touches", TouchRepository.get_bucket)
    reopen_bucket = _via("touches", TouchRepository.reopen_bucket)
    drain_bucket = _via("touches", TouchRepository.drain_bucket)
    open_buckets = _via("touches", TouchRepository.open_buckets)
    feed_bucket = _via("touches", TouchRepository.feed_bucket)
    add_touch = _via("touches", TouchRepository.add_touch)
    touches_in = _via("touches", TouchRepository.touches_in)
    still_scheduled = _via("touches", TouchRepository.still_scheduled)
    move_touch = _via("touches", TouchRepository.move_touch)

    # --- staff tasks, their pages, the sync cursor ----------------------------------------------------------------
    create_task = _via("tasks", StaffTaskRepository.create_task)
    get_task = _via("tasks", StaffTaskRepository.get_task)
    save_task = _via("tasks", StaffTaskRepository.save_task)
    get_task_sync_cursor = _via("tasks", StaffTaskRepository.get_task_sync_cursor)
    put_task_sync_cursor = _via("tasks", StaffTaskRepository.put_task_sync_cursor)
    list_tasks = _via("tasks", StaffTaskRepository.list_tasks)
    page_tasks = _via("tasks", StaffTaskRepository.page_tasks)
    drop_recipient = _via("tasks", StaffTaskRepository.drop_recipient)

    # --- delivery: msgid claims and fire leases -------------------------------------------------------------------
    claim_msgid = _via("delivery", DeliveryRepository.claim_msgid)
    take_lease = _via("delivery", DeliveryRepository.take_lease)
    release_lease = _via("delivery", DeliveryRepository.release_lease)

    # --- group facts for metrics and member activity --------------------------------------------------------------
    record_group_fact = _via("group_facts", GroupFactRepository.record_group_fact)
    set_group_members = _via("group_facts", GroupFactRepository.set_group_members)
    group_activity_since = _via("group_facts", GroupFactRepository.group_activity_since)
    group_day_counters = _via("group_facts", GroupFactRepository.group_day_counters)
    group_members_before = _via("group_facts", GroupFactRepository.group_members_before)
    metric_day_counters = _via("group_facts", GroupFactRepository.metric_day_counters)
    get_group_activity_window = _via("group_facts", GroupFactRepository.get_group_activity_window)
    set_group_activity_window = _via("group_facts", GroupFactRepository.set_group_activity_window)
    erase_group_activity = _via("group_facts", GroupFactRepository.erase_group_activity)

    # --- funnel metrics (issue 11): the fact log, the day counters, spend -------------------------------------------
    record_metric_fact = _via("metrics", MetricsRepository.record_metric_fact)
    metric_counters = _via("metrics", MetricsRepository.metric_counters)
    metric_fact_log = _via("metrics", MetricsRepository.metric_fact_log)
    replace_metric_counters = _via("metrics", MetricsRepository.replace_metric_counters)
    recent_sent = _via("metrics", MetricsRepository.recent_sent)
    mark_metrics_rebuilt = _via("metrics", MetricsRepository.mark_metrics_rebuilt)
    metric_fact_logged = _via("metrics", MetricsRepository.metric_fact_logged)
    put_spend = _via("metrics", MetricsRepository.put_spend)
    spend = _via("metrics", MetricsRepository.spend)

    # --- check-ins, points, leaderboards --------------------------------------------------------------------------
    checkin_rules = _via("points", PointsRepository.checkin_rules)
    put_checkin_rule = _via("points", PointsRepository.put_checkin_rule)
    load_checkin = _via("points", PointsRepository.load_checkin)
    record_checkin = _via("points", PointsRepository.record_checkin)
    credit_points = _via("points", PointsRepository.credit_points)
    redeem_points = _via("points", PointsRepository.redeem_points)
    points_of = _via("points", PointsRepository.points_of)
    ledger_page = _via("points", PointsRepository.ledger_page)
    leaderboard = _via("points", PointsRepository.leaderboard)

    # --- WeCom's own statistics per local day (与企业微信数据核对) ----------------------------------------------
    put_wecom_day = _via("wecom_stats", WeComStatsRepository.put_wecom_day)
    get_wecom_day = _via("wecom_stats", WeComStatsRepository.get_wecom_day)
    list_wecom_days = _via("wecom_stats", WeComStatsRepository.list_wecom_days)
    # --- dashboard links (issue 11 §4) ----------------------------------------------------------------------------
    put_dashboard_link = _via("dashboard_links", DashboardLinkRepository.put_dashboard_link)
    get_dashboard_link = _via("dashboard_links", DashboardLinkRepository.get_dashboard_link)
    list_dashboard_links = _via("dashboard_links", DashboardLinkRepository.list_dashboard_links)
    delete_dashboard_link = _via("dashboard_links", DashboardLinkRepository.delete_dashboard_link)
    # --- hot leads and the alerts outbox (issue 13) ---------------------------------------------------------------
    mark_hot = _via("alerts", AlertRepository.mark_hot)
    clear_hot = _via("alerts", AlertRepository.clear_hot)
    get_hot = _via("alerts", AlertRepository.get_hot)
    hot_leads = _via("alerts", AlertRepository.hot_leads)
    create_alert = _via("alerts", AlertRepository.create_alert)
    get_alert = _via("alerts", AlertRepository.get_alert)
    save_alert = _via("alerts", AlertRepository.save_alert)
    due_alerts = _via("alerts", AlertRepository.due_alerts)
    take_alert_slot = _via("alerts", AlertRepository.take_alert_slot)
    # --- console sign-in (issue 13 §1) ----------------------------------------------------------------------------
    put_console_record = _via("console", ConsoleRepository.put_console_record)
    get_console_record = _via("console", ConsoleRepository.get_console_record)
    take_console_record = _via("console", ConsoleRepository.take_console_record)
    delete_console_record = _via("console", ConsoleRepository.delete_console_record)
    # --- the content library (素材库) and the script library (话术库) ------------------------------------------------
    create_content_item = _via("library", LibraryRepository.create_content_item)
    get_content_item = _via("library", LibraryRepository.get_content_item)
    get_content_items = _via("library", LibraryRepository.get_content_items)
    list_content_items = _via("library", LibraryRepository.list_content_items)
    save_content_item = _via("library", LibraryRepository.save_content_item)
    set_content_media = _via("library", LibraryRepository.set_content_media)
    delete_content_item = _via("library", LibraryRepository.delete_content_item)
    create_script = _via("library", LibraryRepository.create_script)
    get_script = _via("library", LibraryRepository.get_script)
    list_scripts = _via("library", LibraryRepository.list_scripts)
    save_script = _via("library", LibraryRepository.save_script)
    delete_script = _via("library", LibraryRepository.delete_script)
    # --- CRM import: past orders by phone digest (issue 14 §5) ----------------------------------------------------
    begin_crm_import = _via("crm", CrmRepository.begin_crm_import)
    save_crm_import = _via("crm", CrmRepository.save_crm_import)
    get_crm_import = _via("crm", CrmRepository.get_crm_import)
    list_crm_imports = _via("crm", CrmRepository.list_crm_imports)
    put_crm_orders = _via("crm", CrmRepository.put_crm_orders)
    crm_orders_of = _via("crm", CrmRepository.crm_orders_of)
    phone_owners = _via("crm", CrmRepository.phone_owners)
    erase_crm_orders = _via("crm", CrmRepository.erase_crm_orders)
    # --- outbound webhooks (issue 14 §6) ----------------------------------------------------------------------------
    put_webhook = _via("webhooks", WebhookRepository.put_webhook)
    get_webhook = _via("webhooks", WebhookRepository.get_webhook)
    webhook_secret = _via("webhooks", WebhookRepository.webhook_secret)
    list_webhooks = _via("webhooks", WebhookRepository.list_webhooks)
    delete_webhook = _via("webhooks", WebhookRepository.delete_webhook)
    create_delivery = _via("webhooks", WebhookRepository.create_delivery)
    get_delivery = _via("webhooks", WebhookRepository.get_delivery)
    save_delivery = _via("webhooks", WebhookRepository.save_delivery)
    due_deliveries = _via("webhooks", WebhookRepository.due_deliveries)
    subject_head = _via("webhooks", WebhookRepository.subject_head)
    deliveries = _via("webhooks", WebhookRepository.deliveries)
    erase_deliveries = _via("webhooks", WebhookRepository.erase_deliveries)
