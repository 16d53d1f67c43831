"""WeComClient's temporary media (临时素材, media/upload, page 90389): multipart POST of one file, field ``media``,
``type`` image | voice | video | file in the query. The media_id it answers lives 3 days (from ``created_at``).

A mixin like groups.py. Documented limits are checked before a call is spent: more than 5 bytes; image ≤ 10 MB (JPG,
PNG), voice ≤ 2 MB (AMR), video ≤ 10 MB (MP4), file ≤ 20 MB. The token is refreshed once on 40014/42001, as every
call's is; nothing else is retried (a retried upload only costs a second media_id, but the caller decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.answers import errcode_of, required_str
from chalicelib.adapters.wecom.errcodes import OK, TOKEN_ERRCODES
from chalicelib.adapters.wecom.transport import MultipartTransport
from chalicelib.observability import count_by
from chalicelib.ports.wecom import MEDIA_TYPES, UploadedMedia
from chalicelib.tracing import span

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

MB = 1024 * 1024
MAX_MEDIA_BYTES = {"image": 10 * MB, "voice": 2 * MB, "video": 10 * MB, "file": 20 * MB}
MIN_MEDIA_BYTES = 6  # "所有文件size必须大于5个字节"
UPLOAD_API = "media/upload"


def check_media(media_type: str, filename: str, data: bytes) -> None:
    if media_type not in MEDIA_TYPES:
        raise errors.InvalidError(f"media type must be one of {', '.join(MEDIA_TYPES)}")
    if not filename:
        raise errors.InvalidError("an upload needs a filename (WeCom shows it)")
    if len(data) < MIN_MEDIA_BYTES:
        raise errors.InvalidError(f"WeCom takes files of more than {MIN_MEDIA_BYTES - 1} bytes")
    if len(data) > MAX_MEDIA_BYTES[media_type]:
        raise errors.InvalidError(f"WeCom takes a {media_type} of at most {MAX_MEDIA_BYTES[media_type] // MB} MB")


class MediaMixin:
    """The media half of WeComClient (see the module docstring); implements ports.MediaPort."""

    if TYPE_CHECKING:
        _transport: Any

        def _token(self, creds: WeComCredentials, *, stale: str | None = None) -> str: ...
        def _fit(self, api: str) -> float: ...
        def _fail(self, errcode: int, data: dict[str, Any], api: str) -> errors.WeComError: ...

    def upload_media(
        self, creds: WeComCredentials, *, media_type: str, filename: str, content_type: str, data: bytes
    ) -> UploadedMedia:
        check_media(media_type, filename, data)
        transport = self._transport
        if not isinstance(transport, MultipartTransport):
            raise errors.WeComTransportError("this WeCom transport cannot upload files")
        with span(f"wecom {UPLOAD_API}", api=UPLOAD_API):
            token = self._token(creds)
            refreshed = False
            while True:
                query = {"access_token": token, "type": media_type}
                answer = transport.upload(
                    f"/cgi-bin/{UPLOAD_API}",
                    query=query,
                    field="media",
                    filename=filename,
                    content_type=content_type,
                    data=data,
                    timeout=self._fit(UPLOAD_API),
                )
                errcode = errcode_of(answer, UPLOAD_API)
                if errcode == OK:
                    break
                count_by("WeComErrors", "errcode", str(errcode))
                if errcode in TOKEN_ERRCODES and not refreshed:
                    refreshed = True
                    token = self._token(creds, stale=token)
                    continue
                raise self._fail(errcode, answer, UPLOAD_API)
        media_id = required_str(answer, "media_id", UPLOAD_API)
        try:
            created_at = int(answer.get("created_at") or 0)  # WeCom answers it as a string of unix seconds
        except (TypeError, ValueError):
            raise errors.WeComTransportError("WeCom media/upload answered a non-numeric created_at") from None
        return UploadedMedia(media_id=media_id, created_at=created_at)
