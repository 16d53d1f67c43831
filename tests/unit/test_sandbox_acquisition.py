"""The sandbox's acquisition-link routes and the phone's 点获客链接: opening a link's URL adds a staff member of its
range and delivers the add callback with State = the URL's customer_channel; a spent quota answers 409 and adds no
one; a dead URL is refused; the phone shows the corp's links and posts the control route's body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib import errors
from devstack.sandbox_acquisition import AcquisitionRoutes, link_page
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery
from devstack.sandbox_http import RawAnswer
from devstack.sandbox_ui import SandboxUi
from devstack.wecom_world import WeComWorld, WorldError

CORP = "wwacqsandbox0001"


class Parts:
    def __init__(self) -> None:
        self.world = WeComWorld(clock=lambda: 1_764_554_405.0)
        self.callbacks = CallbackRegistry("http://127.0.0.1:1")
        registration: dict[str, str | None] = {
            "corp_id": CORP,
            "tenant_id": "acme",
            "token": "t",
            "encoding_aes_key": "k" * 43,
            "agent_id": "",
            "callback_url": None,
        }
        self.callbacks.add(self.callbacks.build(registration), registration)
        self.events_secrets = None
        self.delivered: list[dict[str, Any]] = []
        self.routes = AcquisitionRoutes(self).routes()

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery:
        self.delivered.append(fields)
        return Delivery(200, "success")

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            return 200, self.routes[(method, path)](query, json.loads(raw))
        except errors.SiyuError as exc:
            return exc.status, exc.to_body()
        except WorldError as exc:
            return 400, errors.InvalidError(str(exc)).to_body()

    def post_business_event(self, *args: Any) -> Any:
        raise AssertionError("never posted")


def _link(parts: Parts, users: list[str]) -> str:
    token = parts.world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    body = {"link_name": "抖音", "range": {"user_list": users}}
    answer = parts.world.handle(
        "/cgi-bin/externalcontact/customer_acquisition/create_link", {"access_token": token}, body
    )
    return str(answer["link"]["url"])


def test_opening_a_link_delivers_the_add_with_its_customer_channel() -> None:
    parts = Parts()
    url = _link(parts, ["zhang", "li"])
    open_ = parts.routes[("POST", "/sandbox/acquisition/open")]
    answer = open_({}, {"corp_id": CORP, "url": f"{url}?customer_channel=ch_1", "name": "小明妈妈"})
    assert (answer["userid"], answer["state"], answer["callback_status"]) == ("zhang", "ch_1", 200)
    [fields] = parts.delivered
    assert fields["State"] == "ch_1" and fields["ExternalUserID"] == answer["external_userid"]
    assert parts.world.corp(CORP).profiles[answer["external_userid"]].name == "小明妈妈"
    links = parts.routes[("GET", "/sandbox/acquisition/links")]({"corp_id": CORP}, {})["links"]
    assert links[0]["adds"] == 1 and links[0]["url"] == url


def test_a_spent_quota_answers_409_and_adds_no_one() -> None:
    parts = Parts()
    url = _link(parts, ["zhang"])
    parts.routes[("POST", "/sandbox/acquisition/quota")]({}, {"corp_id": CORP, "balance": 0, "total": 100})
    with pytest.raises(errors.ConflictError):
        parts.routes[("POST", "/sandbox/acquisition/open")]({}, {"corp_id": CORP, "url": f"{url}?customer_channel=c"})
    assert parts.delivered == [] and parts.world.corp(CORP).follows == {}
    for bad in ({"corp_id": CORP, "balance": "1"}, {"corp_id": CORP, "balance": 5, "total": 2}):
        with pytest.raises((errors.InvalidError, WorldError)):
            parts.routes[("POST", "/sandbox/acquisition/quota")]({}, bad)


def _post(ui: SandboxUi, action: str, form: dict[str, str]) -> str:
    answer: RawAnswer = ui.pages()[("POST", f"/sandbox/ui/{action}")]({}, urlencode(form).encode())
    assert answer.status == 303
    return parse_qs(urlsplit(answer.headers["Location"]).query)["done"][0]


def test_the_phone_opens_a_link_and_says_why_it_could_not() -> None:
    parts = Parts()
    url = _link(parts, ["zhang"])
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    page = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert "点获客链接" in page and url in page and 'for="link-url"' in page
    done = _post(ui, "link", {"corp_id": CORP, "url": f"{url}?customer_channel=ch_9", "name": ""})
    assert done.startswith("已点链接") and "zhang" in done and parts.delivered[-1]["State"] == "ch_9"
    gone = _post(ui, "link", {"corp_id": CORP, "url": "http://sandbox/ca/nope?customer_channel=x", "name": ""})
    assert gone.startswith("没有成功") and len(parts.delivered) == 1


def test_a_links_url_opened_in_a_browser_leads_to_the_phone_with_the_url_filled_in() -> None:
    parts = Parts()
    url = _link(parts, ["zhang"])
    path = urlsplit(url).path
    answer = link_page(parts.world, path, {"customer_channel": "ch_7"})
    assert answer.status == 303
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/sandbox/ui"
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query == {"corp_id": CORP, "link_url": f"{url}?customer_channel=ch_7"}
    page = SandboxUi(parts).pages()[("GET", "/sandbox/ui")](query, b"").body.decode()  # type: ignore[arg-type]
    assert f'value="{url}?customer_channel=ch_7"' in page
    assert link_page(parts.world, "/ca/nope", {}).status == 404
