"""WXBizMsgCrypt: the official sample vectors (sbzhu/weworkapi_python callback/Sample.py) plus every way a payload
can be wrong. A wrong payload must surface as the matching CallbackError, never as a library exception."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import parse_envelope
from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope, signature, validate_encoding_aes_key

# Official sample configuration.
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "ww1436e0e65a779aee"

# Sample 1: URL verification.
VERIFY_SIG = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
VERIFY_TS = "1476416373"
VERIFY_NONCE = "47744683"
VERIFY_ECHO = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="

# Sample 2: an encrypted POST.
POST_SIG = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
POST_TS = "1476422779"
POST_NONCE = "1597212914"
POST_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew"
    "+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24Yhm"
    "ZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwo"
    "cugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)
POST_BODY = (
    f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>\n<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt>\n"
    "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
).encode()
POST_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId>"
    "<AgentID>1000002</AgentID></xml>"
).encode()
POST_RANDOM16 = b"694ce5a83ae07fe3"  # the random prefix inside the sample ciphertext

AES_KEY = base64.b64decode(KEY + "=")


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, KEY, CORP)


def seal(raw_plaintext: bytes, *, nonce: str = "1", timestamp: str = "2") -> tuple[str, str]:
    """Encrypt arbitrary bytes (already padded, or deliberately not) and sign them: for malformed payloads."""
    encryptor = Cipher(algorithms.AES(AES_KEY), modes.CBC(AES_KEY[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(raw_plaintext) + encryptor.finalize()).decode()
    return encrypted, signature(TOKEN, timestamp, nonce, encrypted)


def frame(message: bytes, receive_id: bytes = CORP.encode(), *, length: int | None = None) -> bytes:
    size = len(message) if length is None else length
    return b"R" * 16 + struct.pack(">I", size) + message + receive_id


def pkcs7(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


# --- official vectors ----------------------------------------------------------------------------------------------


def test_signature_matches_the_official_samples() -> None:
    assert signature(TOKEN, VERIFY_TS, VERIFY_NONCE, VERIFY_ECHO) == VERIFY_SIG
    assert signature(TOKEN, POST_TS, POST_NONCE, POST_ENCRYPT) == POST_SIG


def test_verify_url_returns_the_official_echo(crypto: CallbackCrypto) -> None:
    assert crypto.verify_url(VERIFY_SIG, VERIFY_TS, VERIFY_NONCE, VERIFY_ECHO) == "1288432023552776189"


def test_decrypts_the_official_post_sample(crypto: CallbackCrypto) -> None:
    env = parse_envelope(POST_BODY, max_bytes=64 * 1024)
    assert env.to_user == CORP
    assert env.agent_id == "1000002"
    assert crypto.decrypt(POST_SIG, POST_TS, POST_NONCE, env.encrypt) == POST_PLAINTEXT


def test_encrypt_reproduces_the_official_ciphertext_given_its_random_prefix(crypto: CallbackCrypto) -> None:
    encrypted, msg_signature = crypto.encrypt(
        POST_PLAINTEXT, nonce=POST_NONCE, timestamp=POST_TS, random16=POST_RANDOM16
    )
    assert encrypted == POST_ENCRYPT
    assert msg_signature == POST_SIG


# --- round trips ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 31, 32, 33, 44, 1000])
def test_round_trip_for_every_padding_length(crypto: CallbackCrypto, size: int) -> None:
    # 16 + 4 + 18 (corp id) = 38 bytes of framing; these sizes cover pad values 1, 32 and in between.
    message = ("事" * size).encode()[:size] if size else b""
    encrypted, msg_signature = crypto.encrypt(message, nonce="n", timestamp="1700000000")
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(msg_signature, "1700000000", "n", encrypted) == message


def test_encrypt_uses_fresh_randomness_by_default(crypto: CallbackCrypto) -> None:
    first, _ = crypto.encrypt(b"same", nonce="n", timestamp="t")
    second, _ = crypto.encrypt(b"same", nonce="n", timestamp="t")
    assert first != second


def test_envelope_round_trips_through_the_parser(crypto: CallbackCrypto) -> None:
    encrypted, _ = crypto.encrypt(b"<xml/>", nonce="n", timestamp="t")
    env = parse_envelope(envelope(CORP, encrypted, "1000002"), max_bytes=4096)
    assert (env.to_user, env.encrypt, env.agent_id) == (CORP, encrypted, "1000002")


def test_random16_must_be_sixteen_bytes(crypto: CallbackCrypto) -> None:
    with pytest.raises(errors.InvalidError):
        crypto.encrypt(b"x", nonce="n", timestamp="t", random16=b"short")


# --- signatures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "msg_signature",
    [
        "0" * 40,
        POST_SIG.upper(),
        POST_SIG[:-1],
        "",
        "签名" * 10,  # non-ASCII must be a signature error, not a TypeError from compare_digest
    ],
)
def test_bad_signature_is_rejected(crypto: CallbackCrypto, msg_signature: str) -> None:
    with pytest.raises(errors.CallbackSignatureError) as info:
        crypto.decrypt(msg_signature, POST_TS, POST_NONCE, POST_ENCRYPT)
    assert info.value.wx_code == -40001
    assert info.value.status == 401


def test_signature_covers_timestamp_nonce_and_ciphertext(crypto: CallbackCrypto) -> None:
    with pytest.raises(errors.CallbackSignatureError):
        crypto.decrypt(POST_SIG, "1476422780", POST_NONCE, POST_ENCRYPT)
    with pytest.raises(errors.CallbackSignatureError):
        crypto.decrypt(POST_SIG, POST_TS, "1597212915", POST_ENCRYPT)
    tampered = ("A" if POST_ENCRYPT[0] != "A" else "B") + POST_ENCRYPT[1:]
    with pytest.raises(errors.CallbackSignatureError):
        crypto.decrypt(POST_SIG, POST_TS, POST_NONCE, tampered)


def test_wrong_token_fails_the_signature() -> None:
    other = CallbackCrypto("anotherToken", KEY, CORP)
    with pytest.raises(errors.CallbackSignatureError):
        other.verify_url(VERIFY_SIG, VERIFY_TS, VERIFY_NONCE, VERIFY_ECHO)


# --- receiver ------------------------------------------------------------------------------------------------------


def test_message_for_another_corp_is_rejected() -> None:
    other = CallbackCrypto(TOKEN, KEY, "ww0000000000000000")
    with pytest.raises(errors.CallbackReceiverError) as info:
        other.decrypt(POST_SIG, POST_TS, POST_NONCE, POST_ENCRYPT)
    assert info.value.wx_code == -40005


def test_receive_id_must_match_exactly_not_by_prefix(crypto: CallbackCrypto) -> None:
    encrypted, msg_signature = seal(pkcs7(frame(b"<xml/>", CORP.encode() + b"x"), 32))
    with pytest.raises(errors.CallbackReceiverError):
        crypto.decrypt(msg_signature, "2", "1", encrypted)


# --- malformed ciphertexts -----------------------------------------------------------------------------------------


def _raises_decrypt(crypto: CallbackCrypto, encrypted: str, msg_signature: str) -> errors.CallbackDecryptError:
    with pytest.raises(errors.CallbackDecryptError) as info:
        crypto.decrypt(msg_signature, "2", "1", encrypted)
    return info.value


def test_well_formed_seal_decrypts(crypto: CallbackCrypto) -> None:
    # The control for the malformed cases below: the helper itself produces acceptable payloads.
    encrypted, msg_signature = seal(pkcs7(frame(b"<xml/>"), 32))
    assert crypto.decrypt(msg_signature, "2", "1", encrypted) == b"<xml/>"


def test_pad_byte_zero_is_rejected(crypto: CallbackCrypto) -> None:
    body = frame(b"<xml/>")
    data = body + b"\x00" * (32 - len(body) % 32)
    assert len(data) % 32 == 0
    _raises_decrypt(crypto, *seal(data))


def test_pad_byte_above_32_is_rejected(crypto: CallbackCrypto) -> None:
    body = frame(b"x" * 40)
    data = body + bytes([33]) * (64 - len(body) % 64)  # 33 consistent bytes would pass a naive unpadder
    assert len(data) % 32 == 0 and data[-33:] == bytes([33]) * 33
    _raises_decrypt(crypto, *seal(data))


def test_inconsistent_pad_bytes_are_rejected(crypto: CallbackCrypto) -> None:
    data = bytearray(pkcs7(frame(b"<xml/>"), 32))
    assert data[-1] >= 2
    data[-2] ^= 0xFF
    _raises_decrypt(crypto, *seal(bytes(data)))


def test_ciphertext_padded_to_16_byte_blocks_is_rejected(crypto: CallbackCrypto) -> None:
    data = pkcs7(frame(b"<xml/>"), 16)
    assert len(data) % 32 == 16  # AES accepts it; WeCom's 32-byte framing does not
    _raises_decrypt(crypto, *seal(data))


def test_16_byte_padding_that_is_also_valid_32_byte_padding_is_accepted(crypto: CallbackCrypto) -> None:
    message = b"m" * (64 - 16 - 4 - len(CORP) - 3)  # 3 bytes of PKCS#7 padding to 64 under either block size
    data = pkcs7(frame(message), 16)
    assert data == pkcs7(frame(message), 32)
    encrypted, msg_signature = seal(data)
    assert crypto.decrypt(msg_signature, "2", "1", encrypted) == message


def test_length_field_beyond_the_plaintext_is_rejected(crypto: CallbackCrypto) -> None:
    error = _raises_decrypt(crypto, *seal(pkcs7(frame(b"<xml/>", length=10_000), 32)))
    assert error.wx_code == -40008


def test_plaintext_shorter_than_its_framing_is_rejected(crypto: CallbackCrypto) -> None:
    _raises_decrypt(crypto, *seal(pkcs7(b"R" * 18, 32)))  # 16 random bytes, then only 2 of the 4 length bytes


@pytest.mark.parametrize("cut", [16, 32])
def test_truncated_ciphertext_is_rejected(crypto: CallbackCrypto, cut: int) -> None:
    raw = base64.b64decode(POST_ENCRYPT)[:-cut]
    encrypted = base64.b64encode(raw).decode()
    _raises_decrypt(crypto, encrypted, signature(TOKEN, "2", "1", encrypted))


@pytest.mark.parametrize("encrypted", ["not base64!!", "QUJD", "", "QUJDRA=", "é"])
def test_non_base64_or_empty_ciphertext_is_rejected(crypto: CallbackCrypto, encrypted: str) -> None:
    _raises_decrypt(crypto, encrypted, signature(TOKEN, "2", "1", encrypted))


def test_non_utf8_echo_is_a_decrypt_error(crypto: CallbackCrypto) -> None:
    encrypted, msg_signature = seal(pkcs7(frame(b"\xff\xfe"), 32))
    with pytest.raises(errors.CallbackDecryptError):
        crypto.verify_url(msg_signature, "2", "1", encrypted)


def test_decrypt_errors_are_400_with_the_sample_code(crypto: CallbackCrypto) -> None:
    error = _raises_decrypt(crypto, "QUJD", signature(TOKEN, "2", "1", "QUJD"))
    assert error.status == 400
    assert error.wx_code == -40007
    assert error.to_body()["error"]["wx_code"] == -40007


# --- EncodingAESKey ------------------------------------------------------------------------------------------------


def test_valid_key_passes() -> None:
    validate_encoding_aes_key(KEY)


@pytest.mark.parametrize(
    "key",
    [KEY[:-1], KEY + "a", KEY[:-1] + "+", KEY[:-1] + "/", KEY[:-1] + "=", KEY[:-1] + "é", "", " " + KEY[1:], None],
)
def test_malformed_keys_are_invalid(key: str) -> None:
    with pytest.raises(errors.InvalidError):
        validate_encoding_aes_key(key)
    with pytest.raises(errors.InvalidError):
        CallbackCrypto(TOKEN, key, CORP)


def test_empty_token_is_invalid() -> None:
    with pytest.raises(errors.InvalidError):
        CallbackCrypto("", KEY, CORP)
