"""The blob store's key rules (ports/blobs.py) and the fake that unit tests use in place of S3."""

from __future__ import annotations

import pytest

from chalicelib.ports.blobs import Blob, object_key, tenant_prefix
from tests.fakes.blobs import FakeBlobs


def test_every_key_starts_with_its_tenant() -> None:
    assert object_key("acme", "content/c1/v1") == "acme/content/c1/v1"
    assert tenant_prefix("acme") == "acme/"
    assert tenant_prefix("acme", "content/c1/") == "acme/content/c1/"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "..", "a//b", "a b", "a/./b"])
def test_a_key_that_could_leave_its_tenant_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        object_key("acme", key)


@pytest.mark.parametrize("tenant", ["", "Acme", "a/b", "../x"])
def test_a_bad_tenant_is_refused(tenant: str) -> None:
    with pytest.raises(ValueError):
        object_key(tenant, "k")
    with pytest.raises(ValueError):
        tenant_prefix(tenant)


def test_the_fake_keeps_tenants_apart_and_deletes_by_prefix() -> None:
    blobs = FakeBlobs()
    blobs.put("acme", "content/c1/a", b"1", "image/png")
    blobs.put("acme", "content/c2/a", b"2", "image/png")
    blobs.put("acme2", "content/c1/a", b"3", "image/png")
    assert blobs.get("acme", "content/c1/a") == Blob(b"1", "image/png")
    assert blobs.get("acme", "content/c9/a") is None
    assert blobs.delete_prefix("acme", "content/c1/") == 1
    assert blobs.get("acme", "content/c1/a") is None
    assert blobs.get("acme2", "content/c1/a") == Blob(b"3", "image/png")  # the same key of another tenant stays
    blobs.delete("acme", "content/c2/a")
    blobs.delete("acme", "content/c2/a")  # a repeated delete is harmless
    assert blobs.delete_prefix("acme", "") == 0
    assert blobs.delete_prefix("acme2", "") == 1


def test_s3_refusals_are_upstream_errors_and_a_missing_object_is_none() -> None:
    import boto3
    from botocore.stub import Stubber

    from chalicelib.adapters.blobs import S3Blobs
    from chalicelib.errors import UpstreamError

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    blobs = S3Blobs(client, "bucket")
    with Stubber(client) as stub:
        stub.add_client_error("put_object", "NoSuchBucket", http_status_code=404)
        stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        with pytest.raises(UpstreamError):
            blobs.put("acme", "k", b"x", "text/plain")
        assert blobs.get("acme", "k") is None
        with pytest.raises(UpstreamError):
            blobs.get("acme", "k")
