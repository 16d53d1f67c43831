"""Keys of the CRM import (撞单 against the institution's records, docs/crm-import.md).

- an order: ``T#<tid>#CRM#<phone digest>`` / ``O#<order key>#<import id>``: a phone's orders are one Query; each
  import writes its own copy, seen only once its import is complete (so a crash mid-write shows nothing);
- an import: ``T#<tid>#CRMIMP`` / ``I#<import id>``: a tenant's imports are one small partition.
"""

from __future__ import annotations

CRM_ORDER_PREFIX = "O#"
CRM_IMPORT_PREFIX = "I#"


def crm_pk(tenant_id: str, phone_digest: str) -> str:
    """The partition of one phone's CRM orders (the phone only as its tenant-keyed digest)."""
    return f"T#{tenant_id}#CRM#{phone_digest}"


def crm_order_sk(order_key: str, import_id: str) -> str:
    return f"{CRM_ORDER_PREFIX}{order_key}#{import_id}"


def crm_imports_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#CRMIMP"


def crm_import_sk(import_id: str) -> str:
    return f"{CRM_IMPORT_PREFIX}{import_id}"
