"""The SiyuError tree: every failure a caller may see, and the HTTP status it maps to.

Adapters translate library errors into these with ``raise ... from exc``; routes never see botocore or PynamoDB.
"""

from __future__ import annotations

from typing import Any


class SiyuError(Exception):
    """Base of every error Siyu raises on purpose. ``code`` is stable and machine-readable."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": {"code": self.code, "message": self.message}}
        if self.details is not None:
            body["error"]["details"] = self.details
        return body


class InvalidError(SiyuError):
    """The request is malformed or fails validation (400)."""

    status = 400
    code = "invalid_request"


class PayloadTooLargeError(InvalidError):
    """The body exceeds the configured cap (413)."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(InvalidError):
    """The body's Content-Type is not one the route reads (415)."""

    status = 415
    code = "unsupported_media_type"


class UnauthorizedError(SiyuError):
    """No or an unknown credential (401)."""

    status = 401
    code = "unauthorized"


class ForbiddenError(SiyuError):
    """A known credential without the right to this tenant or action (403)."""

    status = 403
    code = "forbidden"


class NotFoundError(SiyuError):
    """The addressed resource does not exist for this tenant (404)."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(SiyuError):
    """The path exists, the method does not (405); the response's Allow header lists the methods that do."""

    status = 405
    code = "method_not_allowed"


class ConflictError(SiyuError):
    """The resource exists already or changed concurrently (409)."""

    status = 409
    code = "conflict"


class UpstreamError(SiyuError):
    """A dependency (WeCom, AWS) failed in a way the caller cannot fix (502)."""

    status = 502
    code = "upstream_error"


class RateLimitedError(UpstreamError):
    """A dependency asked us to slow down (503, retry later)."""

    status = 503
    code = "rate_limited"


# --- WeCom callback protocol errors (WXBizMsgCrypt codes are kept for operators) -------------------------------


class CallbackError(InvalidError):
    """A WeCom callback failed a protocol check; ``wx_code`` is the official sample's error code."""

    wx_code = -40000

    def __init__(self, message: str, *, wx_code: int | None = None) -> None:
        super().__init__(message)
        if wx_code is not None:
            self.wx_code = wx_code

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body["error"]["wx_code"] = self.wx_code
        return body


class CallbackSignatureError(CallbackError):
    status = 401
    code = "bad_signature"
    wx_code = -40001


class CallbackXmlError(CallbackError):
    code = "bad_xml"
    wx_code = -40002


class CallbackDecryptError(CallbackError):
    code = "undecryptable"
    wx_code = -40007


class CallbackReceiverError(CallbackError):
    status = 403
    code = "wrong_receiver"
    wx_code = -40005


class CallbackTooLargeError(CallbackError):
    status = 413
    code = "payload_too_large"
    wx_code = -40008


# --- WeCom API errors: branch on errcode, never on errmsg ------------------------------------------------------


class WeComError(UpstreamError):
    """WeCom answered with a non-zero errcode."""

    code = "wecom_error"

    def __init__(self, errcode: int, errmsg: str = "", *, api: str = "") -> None:
        super().__init__(f"WeCom {api or 'API'} failed with errcode {errcode}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        self.details = {"errcode": errcode, "api": api}


class WeComAuthError(WeComError):
    """Bad corp id/secret, IP not trusted or API forbidden: an operator must fix the configuration."""

    code = "wecom_auth"


class WeComTokenError(WeComError):
    """The access_token is invalid or expired (40014/42001); the client refreshes once."""

    code = "wecom_token"


class WeComBusyError(WeComError):
    """errcode -1: WeCom is busy; retried with bounded backoff."""

    status = 503
    code = "wecom_busy"


class WeComRateLimitError(WeComError):
    """45009 frequency / 45033 concurrency limit."""

    status = 503
    code = "wecom_rate_limited"


class WeComInvalidArgumentError(WeComError):
    """WeCom rejected an argument (invalid external_userid, no relationship, bad state...)."""

    status = 400
    code = "wecom_invalid_argument"


class WeComTransportError(UpstreamError):
    """WeCom could not be reached or answered something that is not JSON."""

    code = "wecom_unreachable"


class WeComDeadlineError(WeComTransportError):
    """The caller's time budget (a callback's 3 s) has no room for this call, or for another retry: it was not
    started. Retryable later (the repair queue), never within the same request."""

    status = 503
    code = "wecom_deadline"


def http_status(exc: BaseException) -> int:
    """Status for any exception: SiyuErrors carry their own, everything else is a 500."""
    return exc.status if isinstance(exc, SiyuError) else 500
