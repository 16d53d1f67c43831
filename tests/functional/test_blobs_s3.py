"""The S3 adapter on moto's S3, in the bucket the functional setup provisions from infra/ (as `make run` does)."""

from __future__ import annotations

import boto3

from chalicelib import bootstrap
from chalicelib.adapters.blobs import S3Blobs
from chalicelib.ports.blobs import Blob
from tests.functional.conftest import Api


def _blobs() -> S3Blobs:
    blobs = bootstrap.services().blobs
    assert isinstance(blobs, S3Blobs)
    return blobs


def test_put_get_delete_round_trip_encrypted_and_tenant_scoped(api: Api) -> None:
    blobs = _blobs()
    assert blobs.bucket == "siyu-local-blobs"  # Settings' default for the local stage
    blobs.put("acme", "content/c1/poster.png", b"\x89PNG", "image/png")
    assert blobs.get("acme", "content/c1/poster.png") == Blob(b"\x89PNG", "image/png")
    s3 = boto3.client("s3", region_name="us-east-1")
    head = s3.head_object(Bucket=blobs.bucket, Key="acme/content/c1/poster.png")
    assert head["ServerSideEncryption"] == "AES256"
    assert blobs.get("acme2", "content/c1/poster.png") is None
    blobs.delete("acme", "content/c1/poster.png")
    blobs.delete("acme", "content/c1/poster.png")
    assert blobs.get("acme", "content/c1/poster.png") is None


def test_delete_prefix_removes_only_that_prefix_of_that_tenant(api: Api) -> None:
    blobs = _blobs()
    for i in range(3):
        blobs.put("acme", f"content/c1/{i}", b"x", "application/octet-stream")
    blobs.put("acme", "content/c10/0", b"x", "application/octet-stream")
    blobs.put("acme2", "content/c1/0", b"x", "application/octet-stream")
    assert blobs.delete_prefix("acme", "content/c1/") == 3
    assert blobs.get("acme", "content/c10/0") is not None
    assert blobs.get("acme2", "content/c1/0") is not None
