"""A real HTTP receiver for outbound webhooks (issue 14 §6), on 127.0.0.1 in a thread: it checks each delivery's
signature with the subscription's secret (the one signing function, domain/business_events), can fail the first N
deliveries (or those of one subject) or answer slowly, and records what it got in order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.domain.business_events import sign


@dataclass
class Received:
    delivery_id: str
    event: str
    timestamp: str
    signature_ok: bool
    body: dict[str, Any]
    status: int  # what the receiver answered


@dataclass
class Receiver:
    secret: str = ""
    fail_first: int = 0  # answer 500 to this many requests first
    fail_subject: str | None = None  # answer 503 to every delivery about this subject id
    delay_seconds: float = 0.0  # answer this late (a slow receiver)
    got: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/siyu"

    def accepted(self) -> list[Received]:
        return [r for r in self.got if 200 <= r.status < 300]

    def handle(self, headers: Any, raw: bytes) -> int:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        stamp = headers.get("X-Siyu-Timestamp", "")
        ok = bool(self.secret) and sign(self.secret, stamp, raw) == headers.get("X-Siyu-Signature")
        body = json.loads(raw)
        with self._lock:
            status = 200 if ok else 401
            if self.fail_first > 0:
                self.fail_first -= 1
                status = 500
            subject = next(iter(body.get("subject", {}).values()), None)
            if self.fail_subject is not None and subject == self.fail_subject:
                status = 503
            self.got.append(
                Received(headers.get("X-Siyu-Delivery", ""), headers.get("X-Siyu-Event", ""), stamp, ok, body, status)
            )
        return status


@contextmanager
def running(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1 for the block's duration."""
    rec = receiver or Receiver()
    with _serve(rec, 0):
        yield rec


@contextmanager
def _serve(rec: Receiver, port: int) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = rec.handle(self.headers, raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.webhook_receiver --secret whsec_… [--port 8765]``: a receiver for the local stack that
    prints each delivery (its event, id, whether its signature checks) until interrupted."""
    import argparse

    parser = argparse.ArgumentParser(description="Print the outbound webhooks Siyu sends (local stack)")
    parser.add_argument("--secret", default="", help="the subscription's secret (whsec_…), to check signatures")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    rec = Receiver(secret=args.secret)

    class Printing(Receiver):
        def handle(self, headers: Any, raw: bytes) -> int:
            status = rec.handle(headers, raw)
            got = rec.got[-1]
            print(f"{got.event} {got.delivery_id} signature={'ok' if got.signature_ok else 'BAD'} → {status}")
            print(json.dumps(got.body, ensure_ascii=False, indent=2), flush=True)
            return status

    server_rec = Printing()
    with _serve(server_rec, args.port):
        print(f"listening on http://127.0.0.1:{args.port}/hooks/siyu (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
