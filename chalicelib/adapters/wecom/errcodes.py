"""WeCom errcodes: which ones the client retries, and the SiyuError each one becomes.

Errcodes (developer.work.weixin.qq.com/document/path/…): global list 90313; gettoken 91039; send_welcome_msg 92599
(41051 delivered already, 41096 another app is delivering, 41050 invalid/expired welcome_code per 90313). The client
branches on errcode only, never on errmsg.
"""

from __future__ import annotations

from chalicelib import errors
from chalicelib.ports import WelcomeOutcome
from chalicelib.ports.wecom import INVALID_MEDIA_ID

# --- errcodes ----------------------------------------------------------------------------------------------------
OK = 0
BUSY = -1
TOKEN_ERRCODES = frozenset({40014, 42001})  # invalid / expired access_token: refresh once
RATE_LIMIT_ERRCODES = frozenset({45009, 45033})  # frequency / concurrency
AUTH_ERRCODES = frozenset(
    {
        40001,  # bad secret
        40013,  # bad corp id
        40056,  # invalid agentid (message/send: not this secret's app): the tenant's wecom.agent_id is wrong
        40091,  # secret of another corp
        41002,  # corpid missing
        41004,  # secret missing
        48002,  # API forbidden for this secret/app
        48004,  # authorisation revoked
        48006,  # API permission withdrawn
        50002,  # member outside the app's scope
        60011,  # no permission for the member/department/tag
        60020,  # caller IP not trusted
    }
)
INVALID_ARGUMENT_ERRCODES = frozenset(
    {
        41035,  # external_userid missing
        41041,  # too many users on a contact way
        41043,  # config_id missing
        41044,  # invalid config_id
        41045,  # API contact-way quota reached (500,000)
        41046,  # msgid missing
        41047,  # invalid msgid
        41048,  # no customer can receive the mass message
        41049,  # welcome_code missing
        41050,  # invalid welcome_code
        41056,  # wrong external id type
        45002,  # message content too large
        50100,  # invalid cursor
        60111,  # userid does not exist
        81013,  # message/send: every recipient is invalid or outside the app's visible range
        84061,  # no contact relationship
    }
)
WELCOME_ALREADY_DELIVERED = 41051
WELCOME_OTHER_APP = 41096
WELCOME_CODE_INVALID = 41050
MEDIA_INVALID = INVALID_MEDIA_ID  # invalid media_id: unknown, or past its 3 days (media/upload, page 90389)
WELCOME_OUTCOMES = {
    OK: WelcomeOutcome.SENT,
    WELCOME_ALREADY_DELIVERED: WelcomeOutcome.ALREADY_DELIVERED,
    WELCOME_OTHER_APP: WelcomeOutcome.OTHER_APP,
    WELCOME_CODE_INVALID: WelcomeOutcome.EXPIRED,
    MEDIA_INVALID: WelcomeOutcome.MEDIA_EXPIRED,  # the code is not spent: a caller may upload again and retry
}


def error_for(errcode: int, errmsg: str = "", *, api: str = "") -> errors.WeComError:
    """The SiyuError for a non-zero errcode (by code only; errmsg is kept for operators, never matched)."""
    cls: type[errors.WeComError]
    if errcode == BUSY:
        cls = errors.WeComBusyError
    elif errcode in TOKEN_ERRCODES:
        cls = errors.WeComTokenError
    elif errcode in RATE_LIMIT_ERRCODES:
        cls = errors.WeComRateLimitError
    elif errcode in AUTH_ERRCODES:
        cls = errors.WeComAuthError
    elif 40000 <= errcode < 41000 or errcode in INVALID_ARGUMENT_ERRCODES:
        cls = errors.WeComInvalidArgumentError
    else:
        cls = errors.WeComError
    return cls(errcode, errmsg, api=api)
