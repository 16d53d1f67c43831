"""The one HTTP client of outbound webhooks: POST a signed body to a tenant's receiver (services/webhooks.py).

urllib3, as WeCom's transport uses (already in the Lambda). No redirects, no automatic retries (the outbox retries
with its own backoff), one short total timeout per try. Outside the offline stages the receiver's name is resolved
here and every address must be public (no SSRF into the VPC, the metadata service or loopback); the connection then
goes to that checked address (TLS still verifies the name), so a second lookup cannot swap it for a private one.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.webhooks import is_public_address
from chalicelib.ports.webhooks import PostResult


class Urllib3Poster:
    """``allow_private``: the offline stages (local, test), whose receivers live on 127.0.0.1."""

    def __init__(self, *, allow_private: bool, resolve: Any = socket.getaddrinfo) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
        import urllib3

        parts = urlsplit(url)
        host, scheme = parts.hostname or "", parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        address = host
        if not self.allow_private:
            try:
                infos = self.resolve(host, port, proto=socket.IPPROTO_TCP)
            except OSError:
                return PostResult(None, "unreachable")
            addresses = sorted({info[4][0] for info in infos})
            if not addresses or not all(is_public_address(a) for a in addresses):
                return PostResult(None, "blocked")
            address = addresses[0]
        pool: Any
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, port, server_hostname=host, assert_hostname=host, maxsize=1, retries=False
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, maxsize=1, retries=False)
        sent = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.TimeoutError:
            return PostResult(None, "timeout")
        except (urllib3.exceptions.HTTPError, OSError):
            return PostResult(None, "unreachable")
        finally:
            pool.close()
        return PostResult(int(response.status), None if 200 <= response.status < 300 else f"http_{response.status}")
