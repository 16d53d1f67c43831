"""The JS-SDK signature (domain/jssdk.py) against the official example, and the agentConfig it builds."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.domain.jssdk import agent_config, signature, signed_url

# 附录「JS-SDK使用权限签名算法」 (developer.work.weixin.qq.com/document/path/96909): its example, verbatim.
DOC_TICKET = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
DOC_NONCE = "Wm3WZYTPz0wzccnW"
DOC_TIMESTAMP = 1414587457
DOC_URL = "http://mp.weixin.qq.com?params=value"
DOC_SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_the_official_example_vector() -> None:
    assert signature(ticket=DOC_TICKET, noncestr=DOC_NONCE, timestamp=DOC_TIMESTAMP, url=DOC_URL) == DOC_SIGNATURE


def test_the_fragment_is_not_signed() -> None:
    with_fragment = signature(ticket=DOC_TICKET, noncestr=DOC_NONCE, timestamp=DOC_TIMESTAMP, url=DOC_URL + "#top")
    assert with_fragment == DOC_SIGNATURE
    assert signed_url("https://a.example/x?y=1#z#w") == "https://a.example/x?y=1"


@pytest.mark.parametrize(
    "change",
    [
        {"ticket": DOC_TICKET + "x"},
        {"noncestr": "Wm3WZYTPz0wzccnX"},
        {"timestamp": DOC_TIMESTAMP + 1},
        {"url": "http://mp.weixin.qq.com?params=other"},
    ],
)
def test_every_part_is_signed(change: dict[str, object]) -> None:
    params: dict[str, object] = {"ticket": DOC_TICKET, "noncestr": DOC_NONCE, "timestamp": DOC_TIMESTAMP}
    params["url"] = DOC_URL
    params.update(change)
    assert signature(**params) != DOC_SIGNATURE  # type: ignore[arg-type]


def test_the_url_is_signed_as_it_is_not_url_encoded() -> None:
    raw = signature(ticket="t", noncestr="abcdefgh", timestamp=1, url="https://a.example/页?x=a b")
    encoded = signature(ticket="t", noncestr="abcdefgh", timestamp=1, url="https://a.example/%E9%A1%B5?x=a%20b")
    assert raw != encoded


@pytest.mark.parametrize(
    ("ticket", "nonce", "url"),
    [
        ("", "abcdefgh", "https://a.example/"),
        ("t", "short", "https://a.example/"),
        ("t", "has space 12", "https://a.example/"),
        ("t", "abcdefgh", "/relative/path"),
    ],
)
def test_bad_parts_are_refused(ticket: str, nonce: str, url: str) -> None:
    with pytest.raises(errors.InvalidError):
        signature(ticket=ticket, noncestr=nonce, timestamp=1, url=url)


def test_agent_config_names_its_parameters_as_the_js_sdk_does() -> None:
    config = agent_config(
        corp_id="wwcorp",
        agent_id="1000002",
        ticket=DOC_TICKET,
        noncestr=DOC_NONCE,
        timestamp=DOC_TIMESTAMP,
        url=DOC_URL,
        js_api_list=("getCurExternalContact",),
    )
    assert config.public() == {
        "corpid": "wwcorp",
        "agentid": "1000002",
        "timestamp": DOC_TIMESTAMP,
        "nonceStr": DOC_NONCE,
        "signature": DOC_SIGNATURE,
        "jsApiList": ["getCurExternalContact"],
    }
    with pytest.raises(errors.InvalidError):
        agent_config(
            corp_id="wwcorp",
            agent_id="",
            ticket=DOC_TICKET,
            noncestr=DOC_NONCE,
            timestamp=1,
            url=DOC_URL,
            js_api_list=(),
        )
