"""The WeCom sandbox: a loopback HTTP server around one WeComWorld.

It serves the ``/cgi-bin/...`` APIs (so the real client runs against it through Urllib3Transport), and a control API
under ``/sandbox/`` that plays the customer's side: scanning a contact way or changing a relation builds the event
WeCom would send, encrypts and signs it with the corp's Token/EncodingAESKey, and POSTs it to the corp's callback
URL, the way WeCom does. Stdlib only (plus Siyu's crypto/XML); nothing AWS.

    python -m devstack.sandbox --port 8001 --api http://127.0.0.1:8000 [--state devstack/.data/sandbox.json]

With a ``state_path`` the WeCom state (the world's snapshot) and the corps' callback registrations survive restarts:
they are loaded at construction and written atomically after every request that may change them. A file that cannot
be loaded is moved aside to ``<name>.corrupt`` and the sandbox starts empty.

Control API (JSON in, JSON out; errors as ``{"error": {"code", "message"}}``):
    GET  /sandbox/health                      liveness
    GET  /sandbox/calls[?api=]                recorded API calls (no secrets, no tokens)
    GET  /sandbox/welcome_messages            welcome messages delivered
    POST /sandbox/reset                       forget everything, registrations included
    POST /sandbox/corps                       {corp_id, tenant_id, token, encoding_aes_key, callback_url?, unionid?,
                                               secret?, monthly_limit?, agent_id?}
    POST /sandbox/contacts                    {corp_id, external_userid, name?, unionid?, gender?, avatar?,
                                               remark_mobiles?}
    POST /sandbox/scan                        {corp_id, state, external_userid?, userid?, name?, unionid?}
    POST /sandbox/events                      {corp_id, change_type, userid?, external_userid?, event?, ...fields}
    POST /sandbox/faults                      {api, errcode, times?}
    POST /sandbox/expire_tokens
    POST /sandbox/tasks/{msgid}/confirm       {userid}
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
import re
import secrets
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import build_event_xml
from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope
from devstack.sandbox_io import STATE_FORMAT, STATE_VERSION, json_object, parse_state, write_atomic
from devstack.sandbox_io import field_bool as _bool
from devstack.sandbox_io import field_str as _str
from devstack.wecom_world import UnknownApiError, WeComWorld, WorldError

logger = logging.getLogger("siyu.sandbox")

MAX_REQUEST_BYTES = 1024 * 1024
_CONFIRM = re.compile(r"/sandbox/tasks/(?P<msgid>[^/]+)/confirm")


@dataclass(frozen=True)
class CorpCallback:
    """Where and how a corp's callbacks are delivered."""

    corp_id: str
    tenant_id: str
    callback_url: str
    crypto: CallbackCrypto
    agent_id: str = ""


@dataclass(frozen=True)
class Delivery:
    """The answer the callback URL gave (status None when it could not be reached)."""

    status: int | None
    body: str


Route = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]


class ClockRoutes(Protocol):
    """What answers /sandbox/clock: devstack.timewarp.ClockControl in `make run`."""

    def show(self) -> dict[str, Any]: ...

    def move(self, body: dict[str, Any]) -> dict[str, Any]: ...


class MethodNotAllowedError(errors.SiyuError):
    status = 405
    code = "method_not_allowed"


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
    ) -> None:
        self.clock = clock
        self.world = world if world is not None else WeComWorld()
        self.api_base = api_base.rstrip("/")
        self.callback_timeout = callback_timeout
        self.state_path = state_path
        self._callbacks: dict[str, CorpCallback] = {}
        # What /sandbox/corps was given, minus a default callback_url (None: derived from api_base), to persist.
        self._registrations: dict[str, dict[str, str | None]] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._saved: bytes | None = None  # the last state written, to skip writes when nothing changed
        if state_path is not None:
            self._load(state_path)
        # Callbacks go to loopback or a named host; an http_proxy from the environment must not intercept them.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "/sandbox/health"): lambda q, b: {"ok": True},
            ("GET", "/sandbox/calls"): self._calls,
            ("GET", "/sandbox/welcome_messages"): lambda q, b: {"welcome_messages": self.world.welcome_messages()},
            ("POST", "/sandbox/reset"): self._reset,
            ("POST", "/sandbox/corps"): self._register_corp,
            ("POST", "/sandbox/contacts"): self._register_contact,
            ("POST", "/sandbox/scan"): self._scan,
            ("POST", "/sandbox/events"): self._event,
            ("POST", "/sandbox/faults"): self._fault,
            ("POST", "/sandbox/expire_tokens"): self._expire_tokens,
            ("GET", "/sandbox/clock"): lambda q, b: self._clock().show(),
            ("POST", "/sandbox/clock"): lambda q, b: self._clock().move(b),
        }
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

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
        with self._lock:
            registrations = [dict(r) for r in self._registrations.values()]
        doc = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "corps": registrations,
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
            callbacks = [self._callback_from(r) for r in registrations]
            self.world.restore(world)  # all or nothing: the world is unchanged when it raises
        except (ValueError, errors.SiyuError) as exc:  # SnapshotError is a ValueError; SiyuError from CallbackCrypto
            self._set_aside(path, str(exc))
            return
        with self._lock:
            self._registrations = {c.corp_id: r for c, r in zip(callbacks, registrations, strict=True)}
            self._callbacks = {c.corp_id: c for c in callbacks}
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

    def _callback_from(self, registration: dict[str, str | None]) -> CorpCallback:
        corp_id, tenant_id = str(registration["corp_id"]), str(registration["tenant_id"])
        crypto = CallbackCrypto(str(registration["token"]), str(registration["encoding_aes_key"]), corp_id)
        callback_url = registration["callback_url"] or f"{self.api_base}/wecom/{tenant_id}/callback"
        return CorpCallback(corp_id, tenant_id, callback_url, crypto, registration["agent_id"] or "")

    # --- the two faces --------------------------------------------------------------------------------------------

    def wecom_api(self, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        """A /cgi-bin/ request: always HTTP 200 with an errcode, like WeCom (404 for an API the world lacks)."""
        body: dict[str, Any] | None = None
        if raw.strip():
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

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        """A /sandbox/ request; bad input answers a JSON error, never a traceback."""
        try:
            route = self._route(method, path)
            body = json_object(raw)
            answer = route(query, body)
        except errors.SiyuError as exc:
            return exc.status, exc.to_body()
        except WorldError as exc:
            return 400, errors.InvalidError(str(exc)).to_body()
        if method == "POST":  # corps, contacts, scan, events, confirm, reset; faults and expire_tokens change nothing
            self._persist()  # durable, so the write is skipped
        return 200, answer

    def _route(self, method: str, path: str) -> Route:
        route = self._routes.get((method, path))
        if route is not None:
            return route
        match = _CONFIRM.fullmatch(path)
        if match is not None and method == "POST":
            msgid = match["msgid"]
            return lambda q, b: self._confirm(msgid, b)
        if any(p == path for _, p in self._routes) or match is not None:
            raise MethodNotAllowedError(f"{method} is not allowed on {path}")
        raise errors.NotFoundError(f"no such sandbox route: {path}")

    # --- control routes ---------------------------------------------------------------------------------------------

    def _calls(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"calls": [asdict(call) for call in self.world.calls(query.get("api") or None)]}

    def _reset(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.world.reset()
        with self._lock:
            self._callbacks.clear()
            self._registrations.clear()
        return {"ok": True}

    def _register_corp(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        registration: dict[str, str | None] = {
            "corp_id": _str(body, "corp_id"),
            "tenant_id": _str(body, "tenant_id"),
            "token": _str(body, "token"),
            "encoding_aes_key": _str(body, "encoding_aes_key"),
            "callback_url": _str(body, "callback_url", required=False) or None,
            "agent_id": _str(body, "agent_id", required=False),
        }
        target = self._callback_from(registration)
        monthly_limit = body.get("monthly_limit")
        if monthly_limit is not None and (not isinstance(monthly_limit, int) or monthly_limit < 1):
            raise errors.InvalidError("monthly_limit must be a positive integer")
        self.world.register_corp(
            target.corp_id,
            secret=_str(body, "secret", required=False) or None,
            unionid=_bool(body, "unionid", default=True),
            monthly_limit=monthly_limit,
        )
        with self._lock:
            self._callbacks[target.corp_id] = target
            self._registrations[target.corp_id] = registration
        return {"corp_id": target.corp_id, "tenant_id": target.tenant_id, "callback_url": target.callback_url}

    def _register_contact(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        mobiles = body.get("remark_mobiles") or []
        if not isinstance(mobiles, list) or not all(isinstance(m, str) for m in mobiles):
            raise errors.InvalidError("remark_mobiles must be a list of strings")
        gender = body.get("gender")
        if gender is not None and gender not in (0, 1, 2):
            raise errors.InvalidError("gender must be 0, 1 or 2")
        corp_id, external_userid = _str(body, "corp_id"), _str(body, "external_userid")
        self.world.register_contact(
            corp_id,
            external_userid,
            name=_str(body, "name", required=False) or None,
            unionid=body.get("unionid") if isinstance(body.get("unionid"), str) else None,
            gender=gender,
            avatar=_str(body, "avatar", required=False) or None,
            remark_mobiles=mobiles,
        )
        return {"corp_id": corp_id, "external_userid": external_userid}

    def _scan(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, state = _str(body, "corp_id"), body.get("state")
        if not isinstance(state, str):
            raise errors.InvalidError("state must be a string (it may be empty)")
        target = self._callback(corp_id)
        fields = self.world.scan(
            corp_id,
            state,
            external_userid=_str(body, "external_userid", required=False) or None,
            userid=_str(body, "userid", required=False) or None,
            name=_str(body, "name", required=False) or None,
            unionid=_str(body, "unionid", required=False) or None,
        )
        delivery = self.deliver(target, fields)
        return {
            "external_userid": fields["ExternalUserID"],
            "userid": fields["UserID"],
            "state": state,
            "welcome_code": fields.get("WelcomeCode"),
            "callback_status": delivery.status,
            "callback_body": delivery.body,
        }

    def _event(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        corp_id, change_type = _str(body, "corp_id"), _str(body, "change_type")
        target = self._callback(corp_id)
        reserved = {"corp_id", "change_type", "userid", "external_userid", "event", "now"}
        extra = {k: v for k, v in body.items() if k not in reserved}
        fields = self.world.event(
            corp_id,
            change_type,
            userid=_str(body, "userid", required=False),
            external_userid=_str(body, "external_userid", required=False),
            event=_str(body, "event", required=False) or "change_external_contact",
            **extra,
        )
        delivery = self.deliver(target, fields)
        return {"fields": fields, "callback_status": delivery.status, "callback_body": delivery.body}

    def _fault(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        api, errcode, times = _str(body, "api"), body.get("errcode"), body.get("times", 1)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise errors.InvalidError("errcode must be an integer")
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise errors.InvalidError("times must be a positive integer")
        self.world.inject(api, errcode, times)
        return {"api": api, "errcode": errcode, "times": times}

    def _expire_tokens(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.world.expire_tokens()
        return {"ok": True}

    def _clock(self) -> ClockRoutes:
        if self.clock is None:
            raise errors.ForbiddenError("this sandbox has no movable clock (`make run` gives it the local stack's)")
        return self.clock

    def _confirm(self, msgid: str, body: dict[str, Any]) -> dict[str, Any]:
        counts = self.world.confirm_task(msgid, _str(body, "userid"))
        return {"msgid": msgid, **counts}

    # --- delivery ---------------------------------------------------------------------------------------------------

    def _callback(self, corp_id: str) -> CorpCallback:
        with self._lock:
            target = self._callbacks.get(corp_id)
        if target is None:
            raise errors.NotFoundError(f"corp {corp_id} is not registered; POST /sandbox/corps first")
        return target

    def deliver(self, target: CorpCallback, fields: dict[str, Any]) -> Delivery:
        """Encrypt and sign the event as WeCom does and POST it to the corp's callback URL (one attempt)."""
        timestamp = str(fields.get("CreateTime", ""))
        nonce = str(secrets.randbelow(10**10))
        encrypted, msg_signature = target.crypto.encrypt(build_event_xml(fields), nonce=nonce, timestamp=timestamp)
        separator = "&" if "?" in target.callback_url else "?"
        query = urlencode({"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce})
        request = urllib.request.Request(
            f"{target.callback_url}{separator}{query}",
            data=envelope(target.corp_id, encrypted, target.agent_id),
            method="POST",
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        try:
            with self._opener.open(request, timeout=self.callback_timeout) as response:
                return Delivery(response.status, response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            return Delivery(exc.code, exc.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError) as exc:
            logger.warning("callback undeliverable", extra={"corp_id": target.corp_id, "error": type(exc).__name__})
            return Delivery(None, f"unreachable: {type(exc).__name__}")


class _Handler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "SiyuWeComSandbox/1"
    # Headers and body go out in two writes; without TCP_NODELAY a keep-alive client waits ~40 ms (delayed ACK).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(413, errors.PayloadTooLargeError("request body too large").to_body())
            return
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            if parts.path.startswith("/cgi-bin/"):
                status, payload = self.sandbox.wecom_api(parts.path, query, raw)
            else:
                status, payload = self.sandbox.control(method, parts.path, query, raw)
        except Exception as exc:  # a sandbox bug: answer JSON rather than drop the connection
            logger.exception("sandbox request failed", extra={"path": parts.path})
            status, payload = 500, errors.SiyuError(f"sandbox failure ({type(exc).__name__})").to_body()
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, whose query carries the access_token: log the path only.
        logger.debug("%s %s", self.command, urlsplit(self.path).path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback WeCom sandbox for Siyu")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="Siyu API base URL receiving callbacks")
    parser.add_argument("--state", type=Path, default=None, help="file keeping the WeCom state across restarts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = SandboxServer(args.host, args.port, args.api, state_path=args.state)
    print(f"WeCom sandbox listening on {server.base_url} (callbacks to {server.api_base})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
