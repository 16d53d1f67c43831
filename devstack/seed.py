"""The local stack's small state files and the demo tenant, seeded through the real admin HTTP API.

Everything here talks HTTP to a running API (or to a fake in tests): the tenant, its staff and channel, a tenant token
kept for the next run, and the tenant's business-events secret kept in ``devstack/.data/events_secret``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from chalicelib.settings import ENV_ADMIN_TOKEN
from devstack.provision import REPO_ROOT
from devstack.seed_library import seed_content, seed_scripts

ADMIN_TOKEN_FILE = "admin_token"
DEMO_TENANT_FILE = "demo_tenant.json"
EVENTS_SECRET_FILE = "events_secret"  # the demo tenant's business-events secret (POST /t/demo/events is signed)
TENANT_TOKEN_FILE = "tenant_token"  # the demo tenant's admin token, reused while it still works

DEMO_TENANT_ID = "demo"
DEMO_CORP_ID = "wwdemo0000000001"
DEMO_TENANT = {"tenant_id": DEMO_TENANT_ID, "name": "示例教育", "corp_id": DEMO_CORP_ID, "timezone": "Asia/Shanghai"}
DEMO_WECOM_SECRET = "sandbox-secret"
DEMO_AGENT_ID = 1000002  # the demo corp's self-built app: staff sign-in (OAuth), alerts, the chat sidebar
DEMO_STAFF = (
    {"userid": "zhanglaoshi", "name": "张老师", "role": "sales", "daily_cap": 200},
    {"userid": "lilaoshi", "name": "李老师", "role": "sales", "daily_cap": 200},
)
DEMO_CHANNEL = {
    "name": "抖音-考研直播间",
    "source": "douyin",
    "campaign": "2027考研秋季",
    "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"], "backup_userid": "zhanglaoshi"},
    "welcome": {"text": "您好，我是XX教育的老师，资料包稍后发您～"},
    "tags": [{"group": "流量平台来源", "name": "抖音"}],
}


_ALNUM = string.ascii_letters + string.digits


class SeedError(RuntimeError):
    """A seeding request failed; the message carries the method, path, HTTP status and body."""


# --------------------------------------------------------------------------------------------------- small state files


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600: these files hold tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def random_alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def load_or_create_admin_token(data_dir: Path, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(token, where it came from): SIYU_ADMIN_TOKEN if set, else the one kept in data_dir, else a new one kept there.

    Keeping it means a restart does not invalidate the token a developer pasted into curl or a client.
    """
    from_env = (os.environ if env is None else env).get(ENV_ADMIN_TOKEN, "").strip()
    if from_env:
        return from_env, f"from ${ENV_ADMIN_TOKEN}"
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept, f"kept in {_rel(path)}"
    token = secrets.token_urlsafe(32)
    _write_private(path, token + "\n")
    return token, f"new, kept in {_rel(path)}"


def load_or_create_demo_secrets(data_dir: Path) -> tuple[dict[str, str], bool]:
    """The demo corp's callback token (32 alnum) and EncodingAESKey (43 alnum), and whether they were just made.

    They must survive restarts: the tenant already exists in DynamoDB with them, and the sandbox signs with them.
    """
    path = data_dir / DEMO_TENANT_FILE
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            kept = json.loads(path.read_text(encoding="utf-8"))
            if _valid_demo_secrets(kept):
                return {"token": kept["token"], "encoding_aes_key": kept["encoding_aes_key"]}, False
    made = {"token": random_alnum(32), "encoding_aes_key": random_alnum(43)}
    _write_private(path, json.dumps({"tenant_id": DEMO_TENANT_ID, "corp_id": DEMO_CORP_ID, **made}, indent=2) + "\n")
    return made, True


def _valid_demo_secrets(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("token"), str)
        and len(data["token"]) == 32
        and isinstance(data.get("encoding_aes_key"), str)
        and len(data["encoding_aes_key"]) == 43
        and data["token"].isalnum()
        and data["encoding_aes_key"].isalnum()
    )


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------------------------ HTTP

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only: never via a proxy


def http_json(
    method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 15.0
) -> tuple[int, Any]:
    """(status, parsed JSON or text) for a request; HTTP errors are returned, connection failures raise SeedError."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json; charset=utf-8")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SeedError(f"{method} {url}: no answer ({reason})") from exc
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def _expect(method: str, url: str, status: int, body: Any, ok: tuple[int, ...]) -> None:
    if status not in ok:
        shown = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        hint = ""
        if status == 403 and ("Missing Authentication Token" in shown or "Authorization header requires" in shown):
            hint = " [API Gateway (and chalice local) answers like this for a route that does not exist]"
        raise SeedError(f"{method} {url} -> HTTP {status} (expected {'/'.join(map(str, ok))}): {shown}{hint}")


class HttpFn(Protocol):
    """The shape of http_json, so seed() can be tested against an in-memory fake API."""

    def __call__(self, method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]: ...


# ------------------------------------------------------------------------------------------------------------ seeding


def seed(
    api_base: str, admin_token: str, sandbox_base: str | None, data_dir: Path, *, http: HttpFn = http_json
) -> dict[str, Any]:
    """Create the demo tenant, two staff and one channel through the admin HTTP API; keep a tenant admin token and
    the tenant's business-events secret in data_dir (see _tenant_token and _demo_events_secret).

    Idempotent and quiet: it lists what exists first and creates only what is missing, so seeding an existing demo
    makes no request the app rejects (and logs as a warning). The channel is created only when the tenant has none.
    The demo corp's callback secrets are kept in data_dir so restarts reuse the ones the tenant was made with.
    Registers the corp with the WeCom sandbox (when `sandbox_base` is given) right after the tenant, so callbacks
    and WeCom API calls made while seeding already work. Raises SeedError with the status and body.
    """

    def _call(
        method: str, url: str, *, ok: tuple[int, ...], token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        status, parsed = http(method, url, token=token, body=body)
        _expect(method, url, status, parsed, ok)
        return status, parsed

    api = api_base.rstrip("/")
    wecom, fresh_secrets = load_or_create_demo_secrets(data_dir)
    warnings: list[str] = []

    tenant_created, created = False, None
    if not _tenant_exists(api, admin_token, _call):
        tenant_body = {**DEMO_TENANT, "wecom": {**wecom, "secret": DEMO_WECOM_SECRET, "agent_id": DEMO_AGENT_ID}}
        status, created = _call("POST", f"{api}/admin/tenants", ok=(200, 201, 409), token=admin_token, body=tenant_body)
        tenant_created = status != 409  # 409: created by someone else since the listing
    if not tenant_created and fresh_secrets:
        warnings.append(
            f"tenant {DEMO_TENANT_ID!r} already existed but {_rel(data_dir / DEMO_TENANT_FILE)} was missing: the "
            "sandbox now signs with new secrets the tenant does not know. Reset with `make clean-data`."
        )
    events_secret, events_secret_source = _demo_events_secret(
        api, admin_token, data_dir, created if tenant_created else None, _call
    )

    # Register the corp with the sandbox before the API creates anything WeCom-side (tags, contact ways), with the
    # tenant's secret so the sandbox checks gettoken the way WeCom does.
    sandbox_registered = False
    if sandbox_base:
        corp = {
            "corp_id": DEMO_CORP_ID,
            "tenant_id": DEMO_TENANT_ID,
            **wecom,
            "secret": DEMO_WECOM_SECRET,
            "agent_id": str(DEMO_AGENT_ID),
        }
        _call("POST", f"{sandbox_base.rstrip('/')}/sandbox/corps", ok=(200, 201, 204, 409), body=corp)
        for member in DEMO_STAFF:  # corp members who can sign in to the console through WeCom
            member_body = {"corp_id": DEMO_CORP_ID, "userid": member["userid"], "name": member["name"]}
            _call("POST", f"{sandbox_base.rstrip('/')}/sandbox/members", ok=(200,), body=member_body)
        sandbox_registered = True

    base = f"{api}/t/{DEMO_TENANT_ID}"
    tenant_token, tenant_token_source, staff = _tenant_token(api, admin_token, data_dir, tenant_created, _call, http)
    known = {s.get("userid") for s in staff}
    for member in DEMO_STAFF:
        if member["userid"] not in known:
            _call("POST", f"{base}/staff", ok=(200, 201, 409), token=tenant_token, body=member)

    _, listing = _call("GET", f"{base}/channels", ok=(200,), token=tenant_token)
    items = listing.get("items") if isinstance(listing, dict) else None
    if not isinstance(items, list):
        raise SeedError(f"GET {base}/channels answered without an items list: {listing!r}")
    channel_created = not items
    if channel_created:
        _, channel = _call("POST", f"{base}/channels", ok=(200, 201), token=tenant_token, body=DEMO_CHANNEL)
    else:
        channel = items[0]
    if not isinstance(channel, dict):
        raise SeedError(f"channel is not a JSON object: {channel!r}")

    scripts_created = seed_scripts(_call, base, tenant_token)  # the sidebar's 话术库 (devstack/seed_library.py)
    content_created = seed_content(_call, base, tenant_token)  # and a 素材库 to start from

    if not tenant_created:  # a demo made before the console: give it its app, so staff can sign in
        _call(
            "PATCH",
            f"{api}/admin/tenants/{DEMO_TENANT_ID}",
            ok=(200,),
            token=admin_token,
            body={"wecom": {"agent_id": DEMO_AGENT_ID}},
        )
    console = {
        "url": f"{api}/console/{DEMO_TENANT_ID}",
        "ops_link": _call("POST", f"{base}/console-links", ok=(201,), token=tenant_token, body={"role": "admin"})[1][
            "url"
        ],
        "staff_link": _call(
            "POST",
            f"{base}/console-links",
            ok=(201,),
            token=tenant_token,
            body={"role": "staff", "userid": DEMO_STAFF[0]["userid"]},
        )[1]["url"],
    }
    return {
        "tenant_id": DEMO_TENANT_ID,
        "corp_id": DEMO_CORP_ID,
        "console": console,
        "tenant_created": tenant_created,
        "tenant_token": tenant_token,
        "tenant_token_source": tenant_token_source,
        "channel": channel,
        "channel_created": channel_created,
        "channel_state": channel.get("state"),
        "scripts_created": scripts_created,
        "content_created": content_created,
        "sandbox_registered": sandbox_registered,
        "events_secret": events_secret,
        "events_secret_source": events_secret_source,
        "warnings": warnings,
    }


def _tenant_exists(api: str, admin_token: str, call: Callable[..., tuple[int, Any]]) -> bool:
    """Whether the demo tenant is there, from the tenant listing (a GET of a missing tenant is a logged 404)."""
    cursor: str | None = None
    while True:
        url = f"{api}/admin/tenants?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        _, page = call("GET", url, ok=(200,), token=admin_token)
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise SeedError(f"GET {url} answered without an items list: {page!r}")
        if any(isinstance(t, dict) and t.get("tenant_id") == DEMO_TENANT_ID for t in items):
            return True
        cursor = page.get("next_cursor")
        if not cursor:
            return False


def _tenant_token(
    api: str,
    admin_token: str,
    data_dir: Path,
    tenant_created: bool,
    call: Callable[..., tuple[int, Any]],
    http: HttpFn,
) -> tuple[str, str, list[dict[str, Any]]]:
    """(a tenant admin token, where it came from, the tenant's staff list). The token kept in data_dir is reused
    while it still works (it lists the staff); a new one is minted, and kept, only when it does not, so restarts
    do not pile up tokens."""
    path = data_dir / TENANT_TOKEN_FILE
    staff_url = f"{api}/t/{DEMO_TENANT_ID}/staff"
    kept = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if kept and not tenant_created:  # a tenant made just now cannot know an older token
        status, listing = http("GET", staff_url, token=kept)
        if status == 200 and isinstance(listing, dict) and isinstance(listing.get("items"), list):
            return kept, f"kept in {_rel(path)}", listing["items"]
        if status not in (401, 403):
            _expect("GET", staff_url, status, listing, (200,))
    url = f"{api}/admin/tenants/{DEMO_TENANT_ID}/tokens"
    _, issued = call("POST", url, ok=(200, 201), token=admin_token, body={"role": "admin", "label": "make run"})
    if not isinstance(issued, dict) or not issued.get("token"):
        raise SeedError(f"POST {url} answered without a token: {issued!r}")
    token = str(issued["token"])
    _write_private(path, token + "\n")
    _, listing = call("GET", staff_url, ok=(200,), token=token)
    items = listing.get("items") if isinstance(listing, dict) else None
    why = " (the tenant is new)" if tenant_created else " (the kept one no longer works)" if kept else ""
    return token, f"new{why}, kept in {_rel(path)}", items if isinstance(items, list) else []


def refresh_events_secret(data_dir: Path, stored: str | None) -> bool:
    """Keep data_dir/events_secret equal to the tenant's stored secret; True when it had to be rewritten (after
    ``PATCH /admin/tenants/demo {"rotate_events_secret": true}``)."""
    path = data_dir / EVENTS_SECRET_FILE
    if not stored:
        return False
    kept = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if kept == stored:
        return False
    _write_private(path, stored + "\n")
    return True


def _demo_events_secret(
    api: str, admin_token: str, data_dir: Path, created: Any, call: Callable[..., tuple[int, Any]]
) -> tuple[str, str]:
    """(the demo tenant's events secret, where it came from), kept in data_dir/events_secret.

    The API shows the secret once: in the creation answer (``created``, when the tenant was made just now), or when it
    is rotated. A tenant that already existed keeps the secret stored at its creation; if that file is gone, the secret
    is rotated once (PATCH /admin/tenants/demo) and the new one kept, so the demo can always sign business events.
    """
    path = data_dir / EVENTS_SECRET_FILE
    if isinstance(created, dict) and isinstance(created.get("events_secret"), str) and created["events_secret"]:
        _write_private(path, created["events_secret"] + "\n")
        return created["events_secret"], f"new, kept in {_rel(path)}"
    if created is None and path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept, f"kept in {_rel(path)}"
    url = f"{api}/admin/tenants/{DEMO_TENANT_ID}"
    _, rotated = call("PATCH", url, ok=(200,), token=admin_token, body={"rotate_events_secret": True})
    secret = rotated.get("events_secret") if isinstance(rotated, dict) else None
    if not isinstance(secret, str) or not secret:
        raise SeedError(f"PATCH {url} answered without an events_secret: {rotated!r}")
    _write_private(path, secret + "\n")
    return secret, f"rotated, kept in {_rel(path)}"
