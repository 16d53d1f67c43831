"""The callback codec port's implementation: WXBizMsgCrypt (crypto.py) plus the defused XML (callback_xml.py).

The envelope's ToUserName must match the tenant's corp id as well as the ReceiveId inside the ciphertext.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.wecom.callback_xml import parse_envelope, parse_event
from chalicelib.adapters.wecom.crypto import CallbackCrypto
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import CallbackReceiverError


class WXCallbackCodec:
    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    @staticmethod
    def _crypto(tenant: Tenant) -> CallbackCrypto:
        return CallbackCrypto(tenant.wecom_token, tenant.wecom_aes_key, tenant.corp_id)

    def verify_url(self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        return self._crypto(tenant).verify_url(msg_signature, timestamp, nonce, echostr)

    def open(self, tenant: Tenant, *, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> dict[str, Any]:
        envelope = parse_envelope(body, max_bytes=self.max_bytes)
        # The signature first: an answer about the addressee before it would tell a stranger which corp a tenant
        # id belongs to (an unknown tenant is checked against keys nobody holds and must fail where a real one does).
        inner = self._crypto(tenant).decrypt(msg_signature, timestamp, nonce, envelope.encrypt)
        if envelope.to_user and envelope.to_user != tenant.corp_id:
            raise CallbackReceiverError("the envelope is addressed to another corp")
        return parse_event(inner)
