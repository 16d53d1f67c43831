"""WeCom callback security (the WXBizMsgCrypt scheme), written against the official docs (pages 90968 / 91144).

AES-256-CBC with IV = key[:16], PKCS#7 padding to 32-byte blocks, plaintext = 16 random bytes, a 4-byte big-endian
length, the message and the receive id (the corp id for a self-built app). The signature is the hex SHA-1 of the
lexically sorted token, timestamp, nonce and ciphertext. Every failure is a CallbackError subclass carrying the
official sample's error code; nothing from cryptography/base64/struct escapes.

``cryptography`` is imported on first use so the tenant API can validate keys without paying for OpenSSL at
cold start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from typing import TYPE_CHECKING

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import cdata

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

BLOCK_SIZE = 32  # WeCom pads to 32 bytes, not AES's 16
RANDOM_PREFIX = 16
_LENGTH_FIELD = 4
_KEY_PATTERN = re.compile(r"[A-Za-z0-9]{43}")


def validate_encoding_aes_key(key: str) -> None:
    """Raise InvalidError unless ``key`` is a well-formed EncodingAESKey (exactly 43 chars of [A-Za-z0-9])."""
    if not isinstance(key, str) or _KEY_PATTERN.fullmatch(key) is None:
        raise errors.InvalidError(
            "encoding_aes_key must be exactly 43 characters of A-Z, a-z, 0-9", code="invalid_encoding_aes_key"
        )


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """msg_signature: hex SHA-1 over the lexically sorted concatenation of the four values, no separator."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def envelope(to_user: str, encrypt: str, agent_id: str = "") -> bytes:
    """The POST body WeCom sends: ``<xml><ToUserName/><Encrypt/><AgentID/></xml>`` (for the sandbox and tests)."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt>"
        f"<AgentID>{cdata(agent_id)}</AgentID></xml>"
    ).encode()


def _pad(data: bytes) -> bytes:
    n = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1]
    if not 1 <= n <= BLOCK_SIZE or data[-n:] != bytes([n]) * n:
        raise errors.CallbackDecryptError("bad padding", wx_code=-40007)
    return data[:-n]


class CallbackCrypto:
    """Signs, verifies, encrypts and decrypts one app's callbacks (one token + EncodingAESKey + receive id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        validate_encoding_aes_key(encoding_aes_key)
        if not token:
            raise errors.InvalidError("callback token must not be empty", code="invalid_callback_token")
        self._token = token
        self._key = base64.b64decode(encoding_aes_key + "=")
        self._receive_id = receive_id.encode("utf-8")

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self._token, timestamp, nonce, encrypt)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET URL verification: check the signature over echostr and return the plaintext to echo back."""
        plain = self.decrypt(msg_signature, timestamp, nonce, echostr)
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.CallbackDecryptError("echostr is not UTF-8") from exc

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """Verify the signature, decrypt ``encrypt`` and return the inner message (the event XML)."""
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        try:
            raw = base64.b64decode(encrypt, validate=True)
            if not raw or len(raw) % BLOCK_SIZE:
                raise errors.CallbackDecryptError("ciphertext is not a whole number of 32-byte blocks")
            decryptor = self._cipher().decryptor()
            plain = _unpad(decryptor.update(raw) + decryptor.finalize())
            body = plain[RANDOM_PREFIX:]
            if len(body) < _LENGTH_FIELD:
                raise errors.CallbackDecryptError("plaintext too short", wx_code=-40008)
            (length,) = struct.unpack(">I", body[:_LENGTH_FIELD])
            end = _LENGTH_FIELD + length
            if end > len(body):
                raise errors.CallbackDecryptError("message length exceeds the plaintext", wx_code=-40008)
            message, receive_id = body[_LENGTH_FIELD:end], body[end:]
        except errors.CallbackError:
            raise
        except (ValueError, TypeError, binascii.Error, struct.error, IndexError) as exc:
            raise errors.CallbackDecryptError(f"undecryptable payload ({type(exc).__name__})") from exc
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise errors.CallbackReceiverError("the callback is addressed to another receive id")
        return message

    def encrypt(
        self, plaintext: bytes, *, nonce: str, timestamp: str, random16: bytes | None = None
    ) -> tuple[str, str]:
        """Encrypt like WeCom does; returns (Encrypt base64, msg_signature). Used by the sandbox and tests."""
        prefix = os.urandom(RANDOM_PREFIX) if random16 is None else random16
        if len(prefix) != RANDOM_PREFIX:
            raise errors.InvalidError("random16 must be exactly 16 bytes")
        data = _pad(prefix + struct.pack(">I", len(plaintext)) + plaintext + self._receive_id)
        encryptor = self._cipher().encryptor()
        encrypted = base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")
        return encrypted, self.signature(timestamp, nonce, encrypted)

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.signature(timestamp, nonce, encrypt).encode("ascii")
        if not hmac.compare_digest(expected, msg_signature.encode("utf-8")):
            raise errors.CallbackSignatureError("msg_signature does not match")

    def _cipher(self) -> Cipher[modes.CBC]:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:RANDOM_PREFIX]))
