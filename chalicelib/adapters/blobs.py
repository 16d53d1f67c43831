"""Blobs in S3: one private bucket (SSE-S3, public access blocked by infra/), keys from ports.blobs.object_key.

The client is built in the constructor (``for_settings`` with the first blob touched, not with ``import app``);
``SIYU_S3_ENDPOINT`` points it at the local moto server.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import UpstreamError
from chalicelib.ports.blobs import Blob, object_key, tenant_prefix
from chalicelib.settings import Settings

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class S3Blobs:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def for_settings(cls, settings: Settings) -> S3Blobs:
        import boto3  # with the first blob, not with ``import app``

        client = boto3.client("s3", region_name=settings.region, endpoint_url=settings.s3_endpoint)
        return cls(client, settings.blob_bucket)

    def put(self, tenant_id: str, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key(tenant_id, key),
                Body=data,
                ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamError("the blob store (S3) refused the write; try again") from exc

    def get(self, tenant_id: str, key: str) -> Blob | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=object_key(tenant_id, key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise UpstreamError("the blob store (S3) could not be read; try again") from exc
        except BotoCoreError as exc:
            raise UpstreamError("the blob store (S3) could not be read; try again") from exc
        return Blob(answer["Body"].read(), str(answer.get("ContentType") or "application/octet-stream"))

    def delete(self, tenant_id: str, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=object_key(tenant_id, key))
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamError("the blob store (S3) refused the delete; try again") from exc

    def delete_prefix(self, tenant_id: str, prefix: str) -> int:
        start = tenant_prefix(tenant_id, prefix)
        deleted = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                for i in range(0, len(keys), DELETE_BATCH):
                    batch = keys[i : i + DELETE_BATCH]
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    deleted += len(batch)
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamError("the blob store (S3) refused the delete; try again") from exc
        return deleted
