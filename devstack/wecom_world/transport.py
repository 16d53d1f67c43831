"""WorldTransport: the real WeComClient against a world in process, no HTTP."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import errors
from devstack.wecom_world.api import UnknownApiError
from devstack.wecom_world.media import describe
from devstack.wecom_world.world import WeComWorld, WorldTimeoutError


class WorldTransport:
    """Transport (chalicelib.adapters.wecom.transport) that hands requests to a world in process. Bodies and answers
    go through JSON so the client is held to what the wire can carry."""

    def __init__(self, world: WeComWorld) -> None:
        self.world = world

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        wire_body = None if body is None else json.loads(json.dumps(body))
        try:
            answer = self.world.handle(path, dict(query), wire_body, timeout=timeout)
        except WorldTimeoutError:
            raise errors.WeComTransportError(f"WeCom {path} timed out") from None
        except UnknownApiError:
            raise errors.WeComTransportError(f"WeCom {path} answered HTTP 404") from None
        result: dict[str, Any] = json.loads(json.dumps(answer))
        return result

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
        """A multipart upload (media/upload), handed over as the world's description of the file."""
        body = describe(str(query.get("type", "")), filename, content_type, data) if field == "media" else {}
        return self.request("POST", path, query=query, body=body, timeout=timeout)

    def download(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """A QR image the world gave out (``qr_code``), as the sandbox serves it over HTTP."""
        png = self.world.qr_png(url)
        if png is None:
            raise errors.WeComTransportError("WeCom image answered HTTP 404")
        if len(png) > max_bytes:
            raise errors.WeComTransportError(f"WeCom image is over {max_bytes} bytes")
        return png
