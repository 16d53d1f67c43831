"""Moves customer profiles written before gsi2 onto it: the customer list's keys go from ``gsi1pk``/``gsi1sk``
(gsi1, projection ALL, where every profile update was billed twice) to ``gsi2pk``/``gsi2sk`` (keys only), values
unchanged, so the list keeps its order. docs/data-model.md, "Moving an existing deployment to gsi2".

Runs by itself wherever the tables are provisioned locally (``devstack.provision.provision``: the local stack's kept
data, the bench), and once by hand against a deployed table after the stack update created gsi2::

    python -m devstack.backfill --table siyu-prod-main --region <region>     # AWS credentials of the operator

Idempotent and safe beside live traffic: each profile moves with one conditional UpdateItem (only while it still
carries the very gsi1 keys read), so an erased customer is never brought back, a profile the app re-saved meanwhile
(which already moved it) is skipped, and a second run finds nothing to do.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import keys as k

log = logging.getLogger(__name__)

_MOVE = "SET gsi2pk = :pk, gsi2sk = :sk REMOVE gsi1pk, gsi1sk"
_STILL_LEGACY = "gsi1pk = :pk AND gsi1sk = :sk"


def _index_pages(client: Any, table: str, partition: str, projection: str) -> Iterator[list[dict[str, Any]]]:
    """Every page of one gsi1 partition."""
    start: dict[str, Any] | None = None
    while True:
        params: dict[str, Any] = {
            "TableName": table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ProjectionExpression": projection,
        }
        if start:
            params["ExclusiveStartKey"] = start
        resp = client.query(**params)
        yield resp.get("Items", [])
        start = resp.get("LastEvaluatedKey")
        if not start:
            return


def tenant_ids(client: Any, table: str) -> list[str]:
    """Every tenant, from gsi1 ``TENANTS`` (a tenant item's gsi1sk is its id)."""
    return [i["gsi1sk"]["S"] for page in _index_pages(client, table, k.TENANTS_GSI_PK, "gsi1sk") for i in page]


def move_tenant(client: Any, table: str, tenant_id: str) -> int:
    """Move one tenant's listed customers from gsi1 to gsi2; returns how many moved."""
    moved = 0
    partition = k.customers_gsi_pk(tenant_id)
    for page in _index_pages(client, table, partition, "pk, sk, gsi1sk"):
        for item in page:
            try:
                client.update_item(
                    TableName=table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression=_MOVE,
                    ConditionExpression=_STILL_LEGACY,
                    ExpressionAttributeValues={":pk": {"S": partition}, ":sk": item["gsi1sk"]},
                )
                moved += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
    return moved


def backfill_customer_index(client: Any, table: str) -> int:
    """Every tenant's customers still on gsi1 moved to gsi2; returns the count (0 once done)."""
    moved = sum(move_tenant(client, table, tid) for tid in tenant_ids(client, table))
    if moved:
        log.info("moved %d customer profiles of %s to the customer list index gsi2", moved, table)
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Move customer profiles written before gsi2 onto it.")
    parser.add_argument("--table", required=True, help="the main table, e.g. siyu-prod-main")
    parser.add_argument("--region", required=True)
    parser.add_argument("--endpoint", help="a local DynamoDB endpoint (default: AWS)")
    args = parser.parse_args(argv)
    if args.endpoint:
        from devstack.provision import local_client

        client = local_client("dynamodb", args.endpoint, args.region)
    else:
        client = boto3.client("dynamodb", region_name=args.region)
    print(f"moved {backfill_customer_index(client, args.table)} customer profiles to gsi2")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
