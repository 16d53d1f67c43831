"""The sandbox's plumbing: its state file (parse, atomic write) and reading control-API bodies."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from chalicelib import errors
from devstack.wecom_world import SnapshotError

STATE_FORMAT = "siyu-wecom-sandbox"
STATE_VERSION = 1
REGISTRATION_FIELDS = ("corp_id", "tenant_id", "token", "encoding_aes_key", "callback_url", "agent_id")


def parse_state(raw: bytes) -> tuple[list[dict[str, str | None]], bytes]:
    """(registrations, world snapshot) from a state file; SnapshotError when it is not one this sandbox reads."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise SnapshotError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise SnapshotError(f"not a sandbox state file (format {STATE_FORMAT!r} expected)")
    if doc.get("version") != STATE_VERSION:
        raise SnapshotError(f"unsupported sandbox state version {doc.get('version')!r} (this sandbox reads 1)")
    corps = doc.get("corps")
    if not isinstance(corps, list):
        raise SnapshotError("corps: expected a list")
    registrations = []
    for i, corp in enumerate(corps):
        ok = isinstance(corp, dict) and set(corp) == set(REGISTRATION_FIELDS)
        ok = ok and all(isinstance(corp[k], str) and corp[k] for k in ("corp_id", "tenant_id", "token"))
        ok = ok and all(corp[k] is None or isinstance(corp[k], str) for k in REGISTRATION_FIELDS)
        if not ok:
            raise SnapshotError(f"corps[{i}]: expected {{{', '.join(REGISTRATION_FIELDS)}}} of strings")
        registrations.append(dict(corp))
    return registrations, json.dumps(doc.get("world"), ensure_ascii=False).encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` (mkstemp: mode 0600) and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise errors.InvalidError("the body is not JSON") from exc
    if not isinstance(parsed, dict):
        raise errors.InvalidError("the body must be a JSON object")
    return parsed


def field_str(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise errors.InvalidError(f"{key} must be a {'non-empty ' if required else ''}string")
    return value


def field_bool(body: dict[str, Any], key: str, *, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise errors.InvalidError(f"{key} must be true or false")
    return value
