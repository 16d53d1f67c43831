"""The WeCom sandbox: a loopback HTTP server around one WeComWorld.

It serves the ``/cgi-bin/...`` APIs (so the real client runs against it through Urllib3Transport), and a control API
under ``/sandbox/`` that plays the customer's side: scanning a contact way or changing a relation builds the event
WeCom would send, encrypts and signs it with the corp's Token/EncodingAESKey, and POSTs it to the corp's callback
URL, the way WeCom does. Stdlib only (plus Siyu's crypto/XML); nothing AWS.

    python -m devstack.sandbox --port 8001 --api http://127.0.0.1:8000 [--state devstack/.data/sandbox.json]

With a ``state_path`` the WeCom state (the world's snapshot) and the corps' callback registrations survive restarts:
they are loaded at construction and written atomically after every request that may change them. A file that cannot
be loaded is moved aside to ``<name>.corrupt`` and the sandbox starts empty.

This module is the server (its two faces and its persistence); the HTTP handler is sandbox_http.py, the control
routes sandbox_control.py, callback registrations and delivery sandbox_callbacks.py, the state file sandbox_io.py.

Control API (JSON in, JSON out; errors as ``{"error": {"code", "message"}}``):
    GET  /sandbox/health                      liveness
    GET  /qr/{config_id}, /qr/join/{config_id}  a contact way's (join way's) QR code as a PNG: its qr_code URL
    GET  /sandbox/calls[?api=]                recorded API calls (no secrets, no tokens)
    GET  /sandbox/welcome_messages            welcome messages delivered
    POST /sandbox/reset                       forget everything, registrations included
    POST /sandbox/corps                       {corp_id, tenant_id, token, encoding_aes_key, callback_url?, unionid?,
                                               secret?, monthly_limit?, agent_id?, chat_member_limit?}
    POST /sandbox/contacts                    {corp_id, external_userid, name?, unionid?, gender?, avatar?,
                                               remark_mobiles?}
    POST /sandbox/scan                        {corp_id, state, external_userid?, userid?, name?, unionid?}
    POST /sandbox/events                      {corp_id, change_type, userid?, external_userid?, event?, ...fields}
    POST /sandbox/faults                      {api, errcode?, delay_ms?, http_status? | late_ms?, times?}
                                              (delay_ms: slow before acting; http_status (5xx) / late_ms: HTTP
                                              faults, devstack.sandbox_faults)
    POST /sandbox/expire_tokens
    POST /sandbox/members                     {corp_id, userid, name?}: a corp member who can sign in (staff)
    GET  /connect/oauth2/authorize            WeCom's web sign-in page (devstack.sandbox_pages)
    GET  /sandbox/jssdk.js                    the JS-SDK player a local page loads for WeCom's jwxwork (SIYU_JSSDK_URL):
                                              wx.agentConfig checked against the sandbox's tickets,
                                              getCurExternalContact answering the open chat (devstack.sandbox_jssdk)
    POST /sandbox/jssdk/context, GET ?corp_id= {corp_id, userid, external_userid}: the chat userid has open
    POST /sandbox/jssdk/close                 {corp_id}: no chat is open any more
    POST /sandbox/jssdk/expire_tickets        {corp_id}: the corp's JS-SDK tickets expire now
    GET  /sandbox/ui                          the sandbox's phone: the customer's and staff's side as a web page
                                              (scan, reply, join, say, confirm, move the clock; devstack.sandbox_ui)
    POST /sandbox/tasks/{msgid}/confirm       {userid}
    POST /sandbox/group-join                  {corp_id, config_id | chat_id, external_userid | userid, invitor?,
                                               mem_change_list?}: change_external_chat add_member (and create)
    POST /sandbox/group-leave                 {corp_id, chat_id, external_userid | userid, removed?}: del_member
    POST /sandbox/group-change                {corp_id, change, chat_id?, owner?, name?, notice?}
    POST /sandbox/groups, GET ?corp_id=       seed a group without a callback; list the corp's groups
    POST /sandbox/group-message               {tenant_id, chat_id, external_userid, text}: a signed business event
                                              (客户群 routes: devstack.sandbox_groups)
    GET  /sandbox/clock                       the local stack's clock (tenant time, machine time, how far ahead)
    POST /sandbox/clock                       {"advance": "PT10H"} or {"to": "2026-12-05T08:00:00+08:00"}: move it
                                              forwards and fire what became due (devstack.timewarp); 403 when the
                                              stack is not local or has no movable clock, 409 backwards
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib import errors
from devstack.sandbox_acquisition import link_page
from devstack.sandbox_callbacks import CallbackRegistry, CorpCallback, Delivery, deliver
from devstack.sandbox_control import ClockRoutes, ControlRoutes, MethodNotAllowedError
from devstack.sandbox_events import EventsSecretFile, EventsSecrets, post_event
from devstack.sandbox_faults import HttpFaults
from devstack.sandbox_http import MAX_REQUEST_BYTES, RawAnswer, SandboxRequestHandler
from devstack.sandbox_io import STATE_FORMAT, STATE_VERSION, json_object, parse_state, write_atomic
from devstack.sandbox_jssdk import JsSdkRoutes
from devstack.sandbox_pages import PageRoutes
from devstack.sandbox_ui import SandboxUi
from devstack.wecom_world import UnknownApiError, WeComWorld, WorldError
from devstack.wecom_world.acquisition import LINK_PATH
from devstack.wecom_world.media import form_body

# Re-exported: the sandbox's vocabulary stays importable from here.
__all__ = [
    "MAX_REQUEST_BYTES",
    "ClockRoutes",
    "CorpCallback",
    "Delivery",
    "MethodNotAllowedError",
    "SandboxServer",
    "main",
]

logger = logging.getLogger("siyu.sandbox")


class SandboxServer:
    """One WeComWorld behind a ThreadingHTTPServer. Binds at construction, so ``base_url`` is known before start.

    With ``state_path`` the state is restored from that file (when it exists) and saved to it after every request
    that may change it (see the module docstring).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_base: str = "http://127.0.0.1:8000",
        *,
        world: WeComWorld | None = None,
        callback_timeout: float = 10.0,
        state_path: Path | None = None,
        clock: ClockRoutes | None = None,
        events_secrets: EventsSecrets | None = None,
    ) -> None:
        self.clock = clock
        self.events_secrets = events_secrets  # tenants' business-events secrets (POST /sandbox/group-message)
        self.world = world if world is not None else WeComWorld()
        self.callbacks = CallbackRegistry(api_base)
        self.http_faults = HttpFaults()  # 5xx and slow answers (POST /sandbox/faults)
        self.callback_timeout = callback_timeout
        self.state_path = state_path
        self._save_lock = threading.Lock()
        self._saved: bytes | None = None  # the last state written, to skip writes when nothing changed
        if state_path is not None:
            self._load(state_path)
        # Callbacks go to loopback or a named host; an http_proxy from the environment must not intercept them.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._control = ControlRoutes(self)
        self.pages = PageRoutes(self)  # browser pages: sign-in (devstack.sandbox_pages)
        JsSdkRoutes(self).register(self.pages)  # the JS-SDK player (devstack.sandbox_jssdk)
        for (method, path), page in SandboxUi(self).pages().items():  # the sandbox's phone (devstack.sandbox_ui)
            self.pages.add(method, path, page)
        handler = type("SandboxHandler", (SandboxRequestHandler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.world.public_url = self.base_url  # the world's qr_code URLs point here (GET /qr/...)
        self._thread: threading.Thread | None = None

    @property
    def api_base(self) -> str:
        """Where callbacks go by default: ``{api_base}/wecom/{tenant_id}/callback``."""
        return self.callbacks.api_base

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        """Serve in a background thread (for tests and embedding)."""
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="wecom-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._persist()  # catches changes made to self.world in process, outside any request

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._persist()

    # --- persistence ------------------------------------------------------------------------------------------------

    def state(self) -> bytes:
        """The persisted form (versioned JSON): the corps' callback registrations and the world's snapshot."""
        doc = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "corps": self.callbacks.registrations(),
            "world": json.loads(self.world.snapshot()),
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    def save(self) -> None:
        """Write state() to state_path atomically (temp file + os.replace, mode 0600: it holds the corps' secrets).
        Does nothing without a state_path or when nothing changed since the last write."""
        if self.state_path is None:
            return
        with self._save_lock:  # snapshot and write in one step, so an older state never replaces a newer one
            data = self.state()
            if data == self._saved:
                return
            write_atomic(self.state_path, data)
            self._saved = data

    def _persist(self) -> None:
        """save(), logging instead of failing the request when the disk refuses (the state stays in memory)."""
        try:
            self.save()
        except OSError as exc:
            logger.warning("could not save the sandbox state to %s: %s", self.state_path, exc)

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._set_aside(path, f"cannot be read ({exc})")
            return
        try:
            registrations, world = parse_state(raw)
            callbacks = [self.callbacks.build(r) for r in registrations]
            self.world.restore(world)  # all or nothing: the world is unchanged when it raises
        except (ValueError, errors.SiyuError) as exc:  # SnapshotError is a ValueError; SiyuError from CallbackCrypto
            self._set_aside(path, str(exc))
            return
        self.callbacks.replace(callbacks, registrations)
        self._saved = raw

    @staticmethod
    def _set_aside(path: Path, reason: str) -> None:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
            where = f"moved it to {aside}"
        except OSError as exc:
            where = f"could not move it aside ({exc}); it will be overwritten"
        message = f"WARNING: WeCom sandbox state {path} is unusable: {reason}. {where}; the sandbox starts empty."
        print(message, file=sys.stderr, flush=True)

    # --- the faces ------------------------------------------------------------------------------------------------

    def wecom_api(
        self, path: str, query: dict[str, str], raw: bytes, content_type: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """A /cgi-bin/ request: always HTTP 200 with an errcode, like WeCom (404 for an API the world lacks), unless
        an injected transport fault answers 5xx first or delays the answer (devstack.sandbox_faults)."""
        fault = self.http_faults.take(path)
        if fault is not None and fault.http_status is not None:
            return fault.http_status, {"errcode": -1, "errmsg": f"injected HTTP {fault.http_status}"}
        status, answer = self._wecom_answer(path, query, raw, content_type)
        if fault is not None and fault.late_ms:
            time.sleep(fault.late_ms / 1000)  # the world acted already: a client that gives up misses the answer
        return status, answer

    def _wecom_answer(
        self, path: str, query: dict[str, str], raw: bytes, content_type: str = ""
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] | None = None
        uploaded = form_body(raw, content_type, str(query.get("type", "")))  # media/upload's multipart file
        if uploaded is not None:
            body = uploaded
        elif raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            body = parsed
        try:
            answer = self.world.handle(path, query, body)
        except UnknownApiError:
            return 404, errors.NotFoundError(f"no such API in the sandbox: {path}").to_body()
        # Failed calls too: an API may fail after a change (47001 on a bad field); an unchanged state is not written.
        if self.world.changes_state(path):
            self._persist()
        return 200, answer

    def page(self, method: str, path: str, query: dict[str, str], raw: bytes) -> RawAnswer | None:
        """A browser page (WeCom's sign-in page, the JS-SDK, a QR image), or None for the API faces."""
        if method == "GET" and path.startswith("/qr/"):  # a qr_code URL: the code's image, as WeCom serves it
            png = self.world.qr_png(path)
            if png is None:
                body = json.dumps(errors.NotFoundError("no such QR code").to_body()).encode()
                return RawAnswer(404, "application/json; charset=utf-8", body)
            return RawAnswer(200, "image/png", png)
        if method == "GET" and path.startswith(LINK_PATH):  # an acquisition link opened: the phone plays WeChat
            return link_page(self.world, path, query)
        return self.pages.answer(method, path, query, raw)

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        """A /sandbox/ request; bad input answers a JSON error, never a traceback."""
        try:
            route = self._control.route(method, path)
            body = json_object(raw)
            answer = route(query, body)
        except errors.SiyuError as exc:
            return exc.status, exc.to_body()
        except WorldError as exc:
            return 400, errors.InvalidError(str(exc)).to_body()
        if method == "POST":  # corps, contacts, scan, events, confirm, reset; faults and expire_tokens change nothing
            self._persist()  # durable, so the write is skipped
        return 200, answer

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery:
        """Encrypt and sign the event as WeCom does and POST it to the corp's callback URL (one attempt)."""
        return deliver(self._opener, target, fields, self.callback_timeout)

    def post_business_event(self, tenant_id: str, secret: str, event: dict[str, Any], timestamp: int) -> Delivery:
        """Sign ``event`` with the tenant's events secret and POST it to ``{api_base}/t/{tenant_id}/events``."""
        url = f"{self.api_base}/t/{tenant_id}/events"
        return post_event(self._opener, url, secret, event, timestamp=timestamp, timeout=self.callback_timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback WeCom sandbox for Siyu")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="Siyu API base URL receiving callbacks")
    parser.add_argument("--state", type=Path, default=None, help="file keeping the WeCom state across restarts")
    parser.add_argument("--events-secret-file", type=Path, default=None, help="a tenant's business-events secret")
    parser.add_argument("--events-tenant", default="demo", help="the tenant whose secret --events-secret-file holds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    secrets_file = EventsSecretFile(args.events_secret_file, args.events_tenant) if args.events_secret_file else None
    server = SandboxServer(args.host, args.port, args.api, state_path=args.state, events_secrets=secrets_file)
    print(f"WeCom sandbox listening on {server.base_url} (callbacks to {server.api_base})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
