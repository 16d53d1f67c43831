"""The sandbox's HTTP handler: reads a request (capped in size) and hands it to the sandbox's browser pages (the
OAuth sign-in page, the JS-SDK script: devstack/sandbox_pages.py), its WeCom API or its control API. The API faces
answer JSON, a sandbox bug included; a page answers whatever it is (HTML, a redirect, a script)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from chalicelib import errors

logger = logging.getLogger("siyu.sandbox")

MAX_REQUEST_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = 21 * 1024 * 1024  # media/upload: a file of up to 20 MB plus its multipart framing
UPLOAD_PATH = "/cgi-bin/media/upload"


@dataclass(frozen=True)
class RawAnswer:
    """A page's answer as it goes out: status, content type, body and extra headers (e.g. Location)."""

    status: int
    content_type: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class SandboxFaces(Protocol):
    """The faces of SandboxServer the handler serves."""

    def page(self, method: str, path: str, query: dict[str, str], raw: bytes) -> RawAnswer | None: ...

    def wecom_api(
        self, path: str, query: dict[str, str], raw: bytes, content_type: str = ""
    ) -> tuple[int, dict[str, Any]]: ...

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]: ...


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Subclassed per server with its ``sandbox`` (see SandboxServer)."""

    sandbox: SandboxFaces
    protocol_version = "HTTP/1.1"
    server_version = "SiyuWeComSandbox/1"
    # Headers and body go out in two writes; without TCP_NODELAY a keep-alive client waits ~40 ms (delayed ACK).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length > (MAX_UPLOAD_BYTES if parts.path == UPLOAD_PATH else MAX_REQUEST_BYTES):
            self.close_connection = True
            self._send(413, errors.PayloadTooLargeError("request body too large").to_body())
            return
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            page = self.sandbox.page(self.command, parts.path, query, raw)
            if page is not None:
                self._send_raw(page)
                return
            if parts.path.startswith("/cgi-bin/"):
                content_type = self.headers.get("Content-Type") or ""
                status, payload = self.sandbox.wecom_api(parts.path, query, raw, content_type)
            else:
                status, payload = self.sandbox.control(method, parts.path, query, raw)
        except Exception as exc:  # a sandbox bug: answer JSON rather than drop the connection
            logger.exception("sandbox request failed", extra={"path": parts.path})
            status, payload = 500, errors.SiyuError(f"sandbox failure ({type(exc).__name__})").to_body()
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, answer: RawAnswer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, whose query carries the access_token: log the path only.
        logger.debug("%s %s", self.command, urlsplit(self.path).path)
