"""How WeComClient reaches WeCom: a one-method Transport, and the urllib3 implementation used in Lambda.

The client is written against the protocol so unit tests can swap in an in-process transport (the WeCom world) and
the sandbox can be reached over real HTTP. urllib3 is already in the Lambda via botocore; it is imported when a
transport is built, not when this module is.

Errors never include the request URL: it carries the access_token in its query string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlencode, urlsplit

from chalicelib import errors

if TYPE_CHECKING:
    import urllib3


class Transport(Protocol):
    """One WeCom HTTP exchange: returns the decoded JSON object or raises WeComTransportError."""

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]: ...


@runtime_checkable
class MultipartTransport(Protocol):
    """A transport that can also POST one file as ``multipart/form-data`` (media/upload); answers as ``request``."""

    def upload(
        self,
        path: str,
        *,
        query: dict[str, str],
        field: str,
        filename: str,
        content_type: str,
        data: bytes,
        timeout: float,
    ) -> dict[str, Any]: ...


class Urllib3Transport:
    """Talks JSON over a shared urllib3 pool to ``base_url`` (WeCom, or the sandbox). No automatic retries:
    a retried add_msg_template would create a second staff task, so retry policy belongs to the client."""

    def __init__(self, base_url: str, pool: urllib3.PoolManager | None = None) -> None:
        import urllib3

        self._base_url = base_url.rstrip("/")
        self._pool = pool if pool is not None else urllib3.PoolManager(num_pools=4, maxsize=10)
        self._http_error: type[Exception] = urllib3.exceptions.HTTPError
        self._timeout_of = urllib3.Timeout

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        url = f"{self._base_url}{path}"
        if query:
            url = f"{url}?{urlencode(query)}"
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if payload is not None else {}
        try:
            response = self._pool.request(
                method,
                url,
                body=payload,
                headers=headers,
                timeout=self._timeout_of(total=timeout),  # connect and read together: a caller's budget holds
                retries=False,
                redirect=False,
            )
        except (self._http_error, OSError) as exc:
            # ``from None``: urllib3's message embeds the URL, access_token included.
            raise errors.WeComTransportError(
                f"WeCom {path} unreachable ({type(exc).__name__})", details={"path": path}
            ) from None
        return self._answer(response, path)

    def upload(
        self,
        path: str,
        *,
        query: dict[str, str],
        field: str,
        filename: str,
        content_type: str,
        data: bytes,
        timeout: float,
    ) -> dict[str, Any]:
        """One file as multipart/form-data (urllib3 encodes it; the part carries filename and content-type, and
        WeCom's ``filelength`` is the part's length)."""
        import urllib3

        body, boundary_type = urllib3.encode_multipart_formdata({field: (filename, data, content_type)})
        url = f"{self._base_url}{path}?{urlencode(query)}"
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": boundary_type},
                timeout=self._timeout_of(total=timeout),
                retries=False,
                redirect=False,
            )
        except (self._http_error, OSError) as exc:  # from None: the message embeds the URL and its token
            raise errors.WeComTransportError(
                f"WeCom {path} unreachable ({type(exc).__name__})", details={"path": path}
            ) from None
        return self._answer(response, path)

    @staticmethod
    def _answer(response: Any, path: str) -> dict[str, Any]:
        if response.status != 200:
            raise errors.WeComTransportError(
                f"WeCom {path} answered HTTP {response.status}", details={"path": path, "status": response.status}
            )
        return decode_json_object(response.data, path)

    def download(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """An image WeCom links to (a contact way's ``qr_code``): http(s) only, an image/* answer of at most
        ``max_bytes``. The URL comes from WeCom's own answer, never from a request."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise errors.WeComTransportError("WeCom image URL is not http(s)")
        try:
            response = self._pool.request(
                "GET",
                url,
                timeout=self._timeout_of(total=timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            try:
                data = response.read(max_bytes + 1)
            finally:
                response.release_conn()
        except (self._http_error, OSError) as exc:
            raise errors.WeComTransportError(f"WeCom image unreachable ({type(exc).__name__})") from None
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if response.status != 200 or not kind.startswith("image/"):
            raise errors.WeComTransportError(f"WeCom image answered HTTP {response.status} ({kind or 'no type'})")
        if len(data) > max_bytes:
            raise errors.WeComTransportError(f"WeCom image is over {max_bytes} bytes")
        return bytes(data)


def decode_json_object(data: bytes, path: str) -> dict[str, Any]:
    """The response body as a JSON object, or WeComTransportError (WeCom always answers an object)."""
    try:
        decoded = json.loads(data)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise errors.WeComTransportError(f"WeCom {path} answered something that is not a JSON object")
    return decoded
