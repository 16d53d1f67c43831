"""The blob store port: attachment bytes (素材库 files and images, proof screenshots), one bucket, tenant-scoped keys.

Every object key is ``<tenant_id>/<key>``, built only by ``object_key`` here, so a tenant's objects never meet
another's and erasing a tenant is one ``delete_prefix``. Keys are Siyu's own ids, never a user's file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$")


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str


def _check_tenant(tenant_id: str) -> None:
    if not _TENANT.match(tenant_id):
        raise ValueError("blob keys need a tenant id")


def object_key(tenant_id: str, key: str) -> str:
    """The bucket key for a tenant's ``key``; refuses what could escape the tenant's prefix ("..", leading "/")."""
    _check_tenant(tenant_id)
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError("a blob key is one or more safe segments separated by '/'")
    return f"{tenant_id}/{key}"


def tenant_prefix(tenant_id: str, prefix: str = "") -> str:
    """The bucket prefix of a tenant's ``prefix`` (empty: everything the tenant has)."""
    if prefix:
        return object_key(tenant_id, prefix)
    _check_tenant(tenant_id)
    return f"{tenant_id}/"


class BlobStore(Protocol):
    def put(self, tenant_id: str, key: str, data: bytes, content_type: str) -> None:
        """Store (or overwrite) the object; encrypted at rest, never public."""
        ...

    def get(self, tenant_id: str, key: str) -> Blob | None:
        """The object, or None when there is none."""
        ...

    def delete(self, tenant_id: str, key: str) -> None:
        """Remove the object; a missing one is fine (deletes repeat harmlessly)."""
        ...

    def delete_prefix(self, tenant_id: str, prefix: str) -> int:
        """Remove every object of the tenant under ``prefix`` (empty: all of them); returns how many went."""
        ...
