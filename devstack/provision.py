"""Create Siyu's tables and schedule group on a local endpoint from infra/resources.json, the deploy definitions.

The key schemas, GSIs and TTL attributes live only in infra/ (merged into `chalice package`); this module reads them
so local, test and cloud tables cannot drift apart. Only the mapping from logical resource to the Settings name is
Python's business.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.settings import Settings
from devstack.backfill import backfill_customer_index

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
INFRA_TEMPLATE = REPO_ROOT / "infra" / "resources.json"
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

#: Logical resource id in infra/resources.json -> the Settings field naming that table at run time.
TABLE_NAMES: dict[str, Callable[[Settings], str]] = {
    "SiyuTable": lambda s: s.table_name,
    "IdempotencyTable": lambda s: s.idempotency_table_name,
}
TABLE_TYPE = "AWS::DynamoDB::Table"
SCHEDULE_GROUP_TYPE = "AWS::Scheduler::ScheduleGroup"
BUCKET_TYPE = "AWS::S3::Bucket"

# CloudFormation property -> create_table argument, for the properties that carry over unchanged.
_COPIED = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


class ProvisionError(RuntimeError):
    """The template and the local tables disagree in a way provisioning cannot fix by itself."""


def local_client(
    service: str, endpoint_url: str, region: str = "us-east-1", *, timeout: float = 10.0, retries: int = 2
) -> Any:
    """A boto3 client for a local endpoint with dummy credentials: never reads a profile, never reaches AWS."""
    session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
    config = Config(
        connect_timeout=min(timeout, 2.0),
        read_timeout=timeout,
        retries={"max_attempts": retries + 1, "mode": "standard"},
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def load_template(path: Path = INFRA_TEMPLATE) -> dict[str, Any]:
    """The parsed CloudFormation template (a fresh copy each call: callers may mutate it)."""
    return copy.deepcopy(_load(path))


def _table_resources(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == TABLE_TYPE:
            if logical_id not in TABLE_NAMES:
                raise ProvisionError(
                    f"infra/ declares table {logical_id!r} but devstack/provision.py TABLE_NAMES has no name for it: "
                    "add a Settings field and map it there"
                )
            yield logical_id, resource.get("Properties", {})


def table_specs(settings: Settings, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """boto3 create_table kwargs for every AWS::DynamoDB::Table in infra/, named as `settings` says."""
    template = load_template() if template is None else template
    specs: list[dict[str, Any]] = []
    for logical_id, props in _table_resources(template):
        billing = props.get("BillingMode", "PROVISIONED")
        if billing != "PAY_PER_REQUEST":
            raise ProvisionError(f"{logical_id}: only PAY_PER_REQUEST tables are supported locally, not {billing}")
        spec: dict[str, Any] = {"TableName": TABLE_NAMES[logical_id](settings), "BillingMode": billing}
        for key in _COPIED:
            if props.get(key):
                spec[key] = copy.deepcopy(props[key])
        stream = props.get("StreamSpecification")
        if stream:
            spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        specs.append(spec)
    return specs


def ttl_specs(settings: Settings, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """boto3 update_time_to_live kwargs for the tables whose TimeToLiveSpecification is enabled in infra/."""
    template = load_template() if template is None else template
    specs = []
    for logical_id, props in _table_resources(template):
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            specs.append(
                {
                    "TableName": TABLE_NAMES[logical_id](settings),
                    "TimeToLiveSpecification": {"AttributeName": ttl["AttributeName"], "Enabled": True},
                }
            )
    return specs


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _wait_active(client: Any, table_name: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        table: dict[str, Any] = client.describe_table(TableName=table_name)["Table"]
        statuses = [table.get("TableStatus")] + [g.get("IndexStatus") for g in table.get("GlobalSecondaryIndexes", [])]
        if all(status in (None, "ACTIVE") for status in statuses):
            return table
        if time.monotonic() > deadline:
            raise ProvisionError(f"table {table_name} not ACTIVE after {timeout:.0f} s: {statuses}")
        time.sleep(0.2)


def _ensure_table(client: Any, spec: dict[str, Any]) -> None:
    name = spec["TableName"]
    try:
        client.describe_table(TableName=name)
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        try:
            client.create_table(**spec)
            log.info("created table %s", name)
        except ClientError as exc2:
            if _error_code(exc2) != "ResourceInUseException":  # another process created it meanwhile
                raise
    table = _wait_active(client, name)
    _check_existing(client, spec, table)


def _check_existing(client: Any, spec: dict[str, Any], table: dict[str, Any]) -> None:
    """An existing table must have infra's key schema; GSIs that infra added since are created in place."""
    name = spec["TableName"]
    if table["KeySchema"] != spec["KeySchema"]:
        raise ProvisionError(
            f"table {name} exists with key schema {table['KeySchema']} but infra/ says {spec['KeySchema']}; "
            "delete the local data (`make clean-data`) and start again"
        )
    existing = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    for index in spec.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in existing:
            continue
        names = {k["AttributeName"] for k in index["KeySchema"]}
        client.update_table(
            TableName=name,
            AttributeDefinitions=[a for a in spec["AttributeDefinitions"] if a["AttributeName"] in names],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        log.info("added index %s to existing table %s", index["IndexName"], name)
        _wait_active(client, name)


def _ensure_ttl(client: Any, spec: dict[str, Any]) -> None:
    wanted = spec["TimeToLiveSpecification"]["AttributeName"]
    current = client.describe_time_to_live(TableName=spec["TableName"]).get("TimeToLiveDescription", {})
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        if current.get("AttributeName") != wanted:
            log.warning("table %s has TTL on %s, infra/ says %s", spec["TableName"], current["AttributeName"], wanted)
        return
    client.update_time_to_live(**spec)


def schedule_group_names(settings: Settings, template: dict[str, Any] | None = None) -> list[str]:
    """The schedule group infra/ declares, named settings.schedule_group locally (one group per stage)."""
    template = load_template() if template is None else template
    groups = [r for r in template.get("Resources", {}).values() if r.get("Type") == SCHEDULE_GROUP_TYPE]
    if len(groups) > 1:
        raise ProvisionError("infra/ declares several schedule groups; Settings only knows one (schedule_group)")
    return [settings.schedule_group] if groups else []


def _ensure_schedule_group(client: Any, name: str) -> None:
    try:
        client.get_schedule_group(Name=name)
        return
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    try:
        client.create_schedule_group(Name=name)
        log.info("created schedule group %s", name)
    except ClientError as exc:
        if _error_code(exc) != "ConflictException":
            raise


def bucket_names(settings: Settings, template: dict[str, Any] | None = None) -> list[str]:
    """The blob bucket infra/ declares, named settings.blob_bucket locally (one bucket per stage)."""
    template = load_template() if template is None else template
    buckets = [r for r in template.get("Resources", {}).values() if r.get("Type") == BUCKET_TYPE]
    if len(buckets) > 1:
        raise ProvisionError("infra/ declares several buckets; Settings only knows one (blob_bucket)")
    return [settings.blob_bucket] if buckets else []


def _ensure_bucket(client: Any, name: str) -> None:
    try:
        client.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    try:
        client.create_bucket(Bucket=name)
        log.info("created bucket %s", name)
    except ClientError as exc:
        if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def provision(
    settings: Settings, *, dynamodb_client: Any, scheduler_client: Any | None = None, s3_client: Any | None = None
) -> None:
    """Create whatever infra/ declares that is missing: tables, GSIs, TTL, and (given clients) the schedule group
    and the blob bucket; then move customers written before gsi2 onto it (``devstack.backfill``).

    Idempotent: existing resources are left alone, so a second call changes nothing.
    """
    template = load_template()
    for spec in table_specs(settings, template):
        _ensure_table(dynamodb_client, spec)
    # Data a new index needs, for tables kept from before it (devstack/.data): nothing once done, one Query.
    backfill_customer_index(dynamodb_client, settings.table_name)
    for spec in ttl_specs(settings, template):
        _ensure_ttl(dynamodb_client, spec)
    if scheduler_client is not None:
        for name in schedule_group_names(settings, template):
            _ensure_schedule_group(scheduler_client, name)
    if s3_client is not None:
        for name in bucket_names(settings, template):
            _ensure_bucket(s3_client, name)


def delete_tables(settings: Settings, dynamodb_client: Any) -> None:
    """Drop the tables `settings` names (test teardown); missing tables are fine."""
    for spec in table_specs(settings):
        try:
            dynamodb_client.delete_table(TableName=spec["TableName"])
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
