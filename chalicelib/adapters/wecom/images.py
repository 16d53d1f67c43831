"""WeComClient's image downloads: the picture behind a contact way's ``qr_code`` URL, for the channel poster.

A mixin like groups.py. The URL is WeCom's own answer (stored on the channel), fetched over the client's transport
so the sandbox serves the same bytes in tests; a transport that cannot download says so instead of pretending.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from chalicelib import errors

MAX_IMAGE_BYTES = 2 * 1024 * 1024  # a QR code image is tens of KB; anything this large is not one


@runtime_checkable
class Downloads(Protocol):
    """A transport that can also GET a binary resource by absolute URL."""

    def download(self, url: str, *, timeout: float, max_bytes: int) -> bytes: ...


class ImagesMixin:
    _transport: Any
    _timeout: float

    def qr_image(self, url: str) -> bytes:
        """The image (PNG or JPEG bytes) at a ``qr_code`` URL WeCom gave; WeComTransportError if it is gone."""
        if not url:
            raise errors.NotFoundError("the channel has no QR code (its WeCom contact way was not created)")
        if not isinstance(self._transport, Downloads):
            raise errors.WeComTransportError("this WeCom transport cannot download images")
        return self._transport.download(url, timeout=self._timeout, max_bytes=MAX_IMAGE_BYTES)
