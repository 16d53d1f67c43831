"""A browser-like client of the console for functional tests: keeps the cookies, sends forms (with the page's CSRF
token unless told not to), and reads pages as a DOM (tests/html_dom.py).

    api.create_tenant()
    ops = signed_in(api)                       # through a one-use sign-in link, as a user would
    page = ops.get("/console/acme/channels")   # Resp; ops.dom(page) → Node
    ops.post("/console/acme/channels", {"name": "…"}, files={"sheet": ("plan.csv", "text/csv", b"…")})
"""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.functional.conftest import TENANT, Api, Resp
from tests.html_dom import Node, parse

Files = dict[str, tuple[str, str, bytes]]  # field → (filename, content type, bytes)


class ConsoleClient:
    def __init__(self, api: Api, tenant_id: str = TENANT) -> None:
        self.api = api
        self.tenant_id = tenant_id
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Resp:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = self.api.client.http.request(method, path, body=body, headers=hdrs)
        self._keep(resp.headers)
        out = Resp(resp.status_code, resp.body, dict(resp.headers), None)
        self._learn_csrf(out)
        return out

    def _keep(self, headers: Any) -> None:
        raw = headers.get("Set-Cookie") if hasattr(headers, "get") else None
        values = raw if isinstance(raw, list) else [raw] if raw else []
        for value in values:
            for part in value.split(", siyu_") if isinstance(value, str) else []:
                jar: SimpleCookie = SimpleCookie()
                jar.load(part if part.startswith("siyu_") else f"siyu_{part}")
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or morsel.value == "":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value

    def _learn_csrf(self, resp: Resp) -> None:
        if resp.headers.get("Content-Type", "").startswith("text/html") and resp.body:
            for node in parse(resp.body.decode("utf-8")).all("input", name="csrf"):
                if node.attrs.get("value"):
                    self.csrf = node.attrs["value"]
                    return

    def get(self, path: str, *, follow: bool = False) -> Resp:
        resp = self._send("GET", path)
        while follow and resp.status_code in (302, 303):
            resp = self._send("GET", self.local(resp.headers["Location"]))
        return resp

    def post(
        self,
        path: str,
        form: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        files: Files | None = None,
        csrf: bool = True,
    ) -> Resp:
        fields = list(form.items()) if isinstance(form, dict) else list(form or [])
        if csrf:
            if not self.csrf:
                self.get(f"/console/{self.tenant_id}")
            fields.append(("csrf", self.csrf))
        if files:
            body, content_type = multipart(fields, files)
        else:
            body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        return self._send("POST", path, body, {"Content-Type": content_type})

    @staticmethod
    def local(location: str) -> str:
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def dom(resp: Resp) -> Node:
        return parse(resp.body.decode("utf-8"))


def multipart(fields: list[tuple[str, str]], files: Files) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        chunks.append(head.encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def signed_in(api: Api, role: str = "ops", userid: str | None = None, tenant_id: str = TENANT) -> ConsoleClient:
    """A console client signed in through a one-use link (the tenant must exist; a staff member must be one)."""
    body: dict[str, Any] = {"role": role}
    if userid:
        body["userid"] = userid
    link = api.call("POST", f"/t/{tenant_id}/console-links", body, api.token(tenant_id, "admin"))
    assert link.status_code == 201, link.body
    client = ConsoleClient(api, tenant_id)
    landed = client.get(link.json["path"])
    assert landed.status_code == 303, landed.body
    assert "siyu_session" in client.cookies
    client.get(client.local(landed.headers["Location"]), follow=True)
    return client
