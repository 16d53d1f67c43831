"""Where the sandbox sends a corp's events: the registrations /sandbox/corps made, and the delivery itself
(encrypted and signed with the corp's Token/EncodingAESKey, POSTed to its callback URL, the way WeCom does)."""

from __future__ import annotations

import logging
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import build_event_xml
from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope

logger = logging.getLogger("siyu.sandbox")


@dataclass(frozen=True)
class CorpCallback:
    """Where and how a corp's callbacks are delivered."""

    corp_id: str
    tenant_id: str
    callback_url: str
    crypto: CallbackCrypto
    agent_id: str = ""


@dataclass(frozen=True)
class Delivery:
    """The answer the callback URL gave (status None when it could not be reached)."""

    status: int | None
    body: str


class CallbackRegistry:
    """The corps' callback registrations, thread-safe.

    Keeps what /sandbox/corps was given (minus a default callback_url, None: derived from ``api_base``), which is
    what the sandbox persists, and the CorpCallback made from it.
    """

    def __init__(self, api_base: str) -> None:
        self.api_base = api_base.rstrip("/")
        self._lock = threading.Lock()
        self._callbacks: dict[str, CorpCallback] = {}
        self._registrations: dict[str, dict[str, str | None]] = {}

    def build(self, registration: dict[str, str | None]) -> CorpCallback:
        """The CorpCallback a registration makes (CallbackCrypto refuses a bad token or key with a SiyuError)."""
        corp_id, tenant_id = str(registration["corp_id"]), str(registration["tenant_id"])
        crypto = CallbackCrypto(str(registration["token"]), str(registration["encoding_aes_key"]), corp_id)
        callback_url = registration["callback_url"] or f"{self.api_base}/wecom/{tenant_id}/callback"
        return CorpCallback(corp_id, tenant_id, callback_url, crypto, registration["agent_id"] or "")

    def add(self, target: CorpCallback, registration: dict[str, str | None]) -> None:
        with self._lock:
            self._callbacks[target.corp_id] = target
            self._registrations[target.corp_id] = registration

    def replace(self, targets: list[CorpCallback], registrations: list[dict[str, str | None]]) -> None:
        """All registrations at once (a loaded state file)."""
        with self._lock:
            self._registrations = {c.corp_id: r for c, r in zip(targets, registrations, strict=True)}
            self._callbacks = {c.corp_id: c for c in targets}

    def clear(self) -> None:
        with self._lock:
            self._callbacks.clear()
            self._registrations.clear()

    def registrations(self) -> list[dict[str, str | None]]:
        """Copies of the registrations, to persist."""
        with self._lock:
            return [dict(r) for r in self._registrations.values()]

    def for_tenant(self, tenant_id: str) -> CorpCallback:
        """The corp registered for ``tenant_id``; NotFoundError when none is."""
        with self._lock:
            target = next((c for c in self._callbacks.values() if c.tenant_id == tenant_id), None)
        if target is None:
            raise errors.NotFoundError(f"no corp is registered for tenant {tenant_id}; POST /sandbox/corps first")
        return target

    def get(self, corp_id: str) -> CorpCallback:
        with self._lock:
            target = self._callbacks.get(corp_id)
        if target is None:
            raise errors.NotFoundError(f"corp {corp_id} is not registered; POST /sandbox/corps first")
        return target


def deliver(
    opener: urllib.request.OpenerDirector, target: CorpCallback, fields: dict[str, Any], timeout: float
) -> Delivery:
    """Encrypt and sign the event as WeCom does and POST it to the corp's callback URL (one attempt)."""
    timestamp = str(fields.get("CreateTime", ""))
    nonce = str(secrets.randbelow(10**10))
    encrypted, msg_signature = target.crypto.encrypt(build_event_xml(fields), nonce=nonce, timestamp=timestamp)
    separator = "&" if "?" in target.callback_url else "?"
    query = urlencode({"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce})
    request = urllib.request.Request(
        f"{target.callback_url}{separator}{query}",
        data=envelope(target.corp_id, encrypted, target.agent_id),
        method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return Delivery(response.status, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Delivery(exc.code, exc.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("callback undeliverable", extra={"corp_id": target.corp_id, "error": type(exc).__name__})
        return Delivery(None, f"unreachable: {type(exc).__name__}")
