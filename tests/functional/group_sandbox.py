"""The WeCom sandbox's group routes (devstack/sandbox_groups.py) driven over HTTP, their callbacks delivered into
the app under test.

The sandbox signs and encrypts each ``change_external_chat`` as WeCom does and POSTs it to the corp's callback URL;
in the functional tier the app is a ``chalice.test.Client``, not a server, so the delivery's last hop (the HTTP
POST) goes through that client instead: same envelope, same query, same signature, and the app's answer comes back
in the route's ``callback_status`` / ``callback_body`` as it would over the wire."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters.wecom.callback_xml import build_event_xml
from chalicelib.adapters.wecom.crypto import envelope
from devstack.sandbox_callbacks import CorpCallback, Delivery
from tests.functional.conftest import CORP, TENANT, WECOM, Api


@dataclass
class GroupSandbox:
    api: Api

    def post(self, path: str, body: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
        """POST ``body`` to a sandbox route; the JSON answer (its status checked)."""
        url = f"{self.api.sandbox.base_url}{path}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                got, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            got, raw = exc.code, exc.read()
        assert got == status, raw
        answer: dict[str, Any] = json.loads(raw)
        return answer

    def register(self, *, chat_member_limit: int | None = None) -> None:
        """The tenant's corp, with callbacks to the tenant's callback URL (and a lower member limit, if given)."""
        body: dict[str, Any] = {
            "corp_id": CORP,
            "tenant_id": TENANT,
            "token": WECOM["token"],
            "encoding_aes_key": WECOM["encoding_aes_key"],
        }
        if chat_member_limit is not None:
            body["chat_member_limit"] = chat_member_limit
        self.post("/sandbox/corps", body)

    def join(self, **body: Any) -> dict[str, Any]:
        answer = self.post("/sandbox/group-join", {"corp_id": CORP, **body})
        assert all(cb["callback_status"] == 200 for cb in answer["callbacks"]), answer
        return answer

    def leave(self, **body: Any) -> dict[str, Any]:
        answer = self.post("/sandbox/group-leave", {"corp_id": CORP, **body})
        assert all(cb["callback_status"] == 200 for cb in answer["callbacks"]), answer
        return answer

    def change(self, **body: Any) -> dict[str, Any]:
        answer = self.post("/sandbox/group-change", {"corp_id": CORP, **body})
        assert all(cb["callback_status"] == 200 for cb in answer["callbacks"]), answer
        return answer

    def seed(self, **body: Any) -> dict[str, Any]:
        return self.post("/sandbox/groups", {"corp_id": CORP, **body})


def outcomes(answer: dict[str, Any]) -> list[str]:
    """The app's outcome for each callback a sandbox route sent."""
    return [json.loads(cb["callback_body"])["outcome"] for cb in answer["callbacks"]]


def group_sandbox(api: Api, monkeypatch: pytest.MonkeyPatch) -> GroupSandbox:
    """The sandbox's group routes, their callbacks delivered into ``api``'s app (see the module docstring); a test
    module's fixture calls it."""

    def deliver(target: CorpCallback, fields: dict[str, Any]) -> Delivery:
        timestamp, nonce = str(fields.get("CreateTime", "")), str(secrets.randbelow(10**10))
        encrypted, signature = target.crypto.encrypt(build_event_xml(fields), nonce=nonce, timestamp=timestamp)
        query = urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        resp = api.call(
            "POST",
            f"/wecom/{target.tenant_id}/callback?{query}",
            envelope(target.corp_id, encrypted, target.agent_id),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        return Delivery(resp.status_code, resp.body.decode("utf-8", "replace"))

    monkeypatch.setattr(api.sandbox, "deliver", deliver)
    return GroupSandbox(api)
