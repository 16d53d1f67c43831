"""The WeCom JS-SDK's signature (附录「JS-SDK使用权限签名算法」, developer.work.weixin.qq.com/document/path/96909).

``wx.config`` (with the corp's jsapi_ticket) and ``wx.agentConfig`` (with the app's ticket, type agent_config) are
signed the same way: SHA-1 of ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…``, in that order, values as they are
(no URL encoding), and the page's URL without its ``#fragment``. A page signs its own URL, so a signature made for
one page cannot configure another. Pure: the caller brings the ticket, the time and the nonce.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from chalicelib.errors import InvalidError

# The characters a nonce may hold: WeCom's examples use letters and digits; anything else would need escaping in
# the page and the JS call, and the doc asks for none.
NONCE_RE = re.compile(r"^[A-Za-z0-9]{8,32}$")


def signed_url(url: str) -> str:
    """The URL as it is signed: everything before the first ``#``."""
    return url.split("#", 1)[0]


def signature(*, ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """The hex SHA-1 signature of a (corp or app) ticket, a nonce, a unix timestamp and the page's URL."""
    if not ticket:
        raise InvalidError("a JS-SDK signature needs a ticket")
    if NONCE_RE.fullmatch(noncestr) is None:
        raise InvalidError("a JS-SDK nonce is 8..32 letters or digits")
    if not url.startswith(("http://", "https://")):
        raise InvalidError("a JS-SDK signature signs an absolute http(s) URL")
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={int(timestamp)}&url={signed_url(url)}"
    return hashlib.sha1(plain.encode()).hexdigest()  # WeCom's algorithm, not our choice


@dataclass(frozen=True)
class AgentConfig:
    """What ``wx.agentConfig`` takes, as the sidebar page renders it for its script."""

    corpid: str
    agentid: str
    timestamp: int
    nonce_str: str
    signature: str
    js_api_list: tuple[str, ...]

    def public(self) -> dict[str, object]:
        """The parameters under the names the JS-SDK uses."""
        return {
            "corpid": self.corpid,
            "agentid": self.agentid,
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "signature": self.signature,
            "jsApiList": list(self.js_api_list),
        }


def agent_config(
    *, corp_id: str, agent_id: str, ticket: str, noncestr: str, timestamp: int, url: str, js_api_list: tuple[str, ...]
) -> AgentConfig:
    """The agentConfig parameters for the page at ``url``, signed with the app's (agent_config) ticket."""
    if not corp_id or not agent_id:
        raise InvalidError("wx.agentConfig needs the corp id and the app's agent id")
    sig = signature(ticket=ticket, noncestr=noncestr, timestamp=timestamp, url=url)
    return AgentConfig(corp_id, agent_id, int(timestamp), noncestr, sig, js_api_list)
