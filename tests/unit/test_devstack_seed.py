"""The local stack's seeding through the admin HTTP API (against an in-memory fake API), and its banner."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.settings import Settings
from devstack import run
from devstack import seed as seeding

SETTINGS = Settings(table_name="siyu-x", idempotency_table_name="siyu-x-idem", schedule_group="siyu-x")


class FakeApi:
    """Just enough of the admin API and the sandbox control API, keeping state like the real ones would."""

    def __init__(self, admin_token: str = "adm") -> None:
        self.admin_token = admin_token
        self.tenants: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.staff: dict[str, dict[str, Any]] = {}
        self.channels: list[dict[str, Any]] = []
        self.corps: dict[str, dict[str, Any]] = {}
        self.missing: set[str] = set()
        self.corp_known_before_channel: bool | None = None
        self.events_secrets: list[str] = []  # every events secret the tenant had, the current one last
        self.rejected: list[tuple[str, str, int]] = []  # API answers >= 400: the app logs each as a warning
        self.page_size = 100
        self.minted = 0
        self.members: set[str] = set()  # the sandbox's corp members (staff who can sign in through WeCom)
        self.links: list[dict[str, Any]] = []  # console sign-in links handed out
        self.scripts: list[dict[str, Any]] = []  # the 话术库 (devstack/seed_library.py)
        self.content: list[dict[str, Any]] = []  # the 素材库

    def __call__(self, method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        status, answer = self._answer(method, url, token, body)
        if status >= 400 and not urlparse(url).netloc.endswith(":8001"):
            self.rejected.append((method, urlparse(url).path, status))
        return status, answer

    def _answer(self, method: str, url: str, token: str | None, body: Any) -> tuple[int, Any]:
        parsed = urlparse(url)
        route = (method, parsed.path)
        if parsed.path in self.missing:
            return 403, {"message": "Missing Authentication Token"}
        if parsed.netloc.endswith(":8001"):
            if route == ("POST", "/sandbox/corps"):
                self.corps[body["corp_id"]] = body
                return 200, {}
            if route == ("POST", "/sandbox/members"):
                self.members.add(body["userid"])
                return 200, {"ok": True}
            return 404, None
        if route == ("GET", "/admin/tenants"):
            if token != self.admin_token:
                return 401, {"message": "bad admin token"}
            query = parse_qs(parsed.query)
            start = int(query.get("cursor", ["0"])[0])
            ids = sorted(self.tenants)
            page = ids[start : start + self.page_size]
            more = start + self.page_size < len(ids)
            items = [{"tenant_id": t} for t in page]
            return 200, {"items": items, "next_cursor": str(start + self.page_size) if more else None}
        if route == ("POST", "/admin/tenants"):
            if token != self.admin_token:
                return 401, {"message": "bad admin token"}
            if body["tenant_id"] in self.tenants:
                return 409, {"message": "tenant exists"}
            self.tenants[body["tenant_id"]] = body
            self.events_secrets.append(f"secret{len(self.events_secrets)}")
            return 201, {**body, "events_secret": self.events_secrets[-1]}  # shown this once
        if route == ("PATCH", "/admin/tenants/demo"):
            if token != self.admin_token:
                return 401, {"message": "bad admin token"}
            if body == {"wecom": {"agent_id": 1000002}}:  # a demo made before the console gets its app
                self.tenants["demo"]["wecom"] = {**self.tenants["demo"].get("wecom", {}), **body["wecom"]}
                return 200, self.tenants["demo"]
            assert body == {"rotate_events_secret": True}
            self.events_secrets.append(f"secret{len(self.events_secrets)}")
            return 200, {**self.tenants["demo"], "events_secret": self.events_secrets[-1]}
        if route == ("POST", "/admin/tenants/demo/tokens"):
            self.minted += 1
            issued = f"tok{self.minted}"
            self.tokens[issued] = body["role"]
            return 201, {"token": issued}
        if token not in self.tokens:
            return 401, {"message": "bad tenant token"}
        if route == ("POST", "/t/demo/staff"):
            if body["userid"] in self.staff:
                return 409, {"message": "staff exists"}
            self.staff[body["userid"]] = body
            return 201, body
        if route == ("GET", "/t/demo/staff"):
            return 200, {"items": list(self.staff.values()), "next_cursor": None}
        if route == ("POST", "/t/demo/console-links"):
            if self.tokens[token] != "admin":
                return 403, {"message": "needs admin"}
            self.links.append(body)
            return 201, {"url": f"{API}/console/demo/signin/link?k=k{len(self.links)}", "path": "/console/demo/..."}
        if route == ("GET", "/t/demo/channels"):
            return 200, {"items": list(self.channels), "next_cursor": None}
        if route == ("POST", "/t/demo/channels"):
            self.corp_known_before_channel = bool(self.corps)
            channel = {**body, "channel_id": f"ch{len(self.channels)}", "state": f"c{len(self.channels)}"}
            self.channels.append(channel)
            return 201, channel
        if route == ("GET", "/t/demo/content"):
            return 200, {"items": list(self.content)[:1], "next_cursor": None}
        if route == ("POST", "/t/demo/content"):
            self.content.append(body)
            return 201, body
        if route == ("GET", "/t/demo/scripts"):
            return 200, {"items": list(self.scripts)}
        if route == ("POST", "/t/demo/scripts"):
            self.scripts.append(body)
            return 201, body
        return 404, {"message": f"no route {route}"}


API = "http://127.0.0.1:8000"
SANDBOX = "http://127.0.0.1:8001"


def test_seed_creates_the_demo_tenant_staff_channel_and_registers_the_corp(tmp_path: Path) -> None:
    api = FakeApi()
    result = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    tenant = api.tenants["demo"]
    kept = json.loads((tmp_path / seeding.DEMO_TENANT_FILE).read_text())
    assert tenant["corp_id"] == "wwdemo0000000001" and tenant["timezone"] == "Asia/Shanghai"
    assert tenant["wecom"] == {
        "token": kept["token"],
        "encoding_aes_key": kept["encoding_aes_key"],
        "secret": "sandbox-secret",
        "agent_id": 1000002,
    }
    assert set(api.staff) == {"zhanglaoshi", "lilaoshi"}
    assert [c["name"] for c in api.channels] == ["抖音-考研直播间"]
    assert api.channels[0]["staff"]["mode"] == "round_robin"
    assert api.corps["wwdemo0000000001"] == {
        "corp_id": "wwdemo0000000001",
        "tenant_id": "demo",
        "token": kept["token"],
        "encoding_aes_key": kept["encoding_aes_key"],
        "secret": "sandbox-secret",
        "agent_id": "1000002",
    }
    assert api.members == {"zhanglaoshi", "lilaoshi"}  # they can sign in to the console through WeCom
    assert api.links == [{"role": "admin"}, {"role": "staff", "userid": "zhanglaoshi"}]
    assert result["console"]["url"] == f"{API}/console/demo"
    assert result["console"]["ops_link"].startswith(f"{API}/console/demo/signin/link?k=")
    assert result["tenant_created"] and result["channel_created"] and result["sandbox_registered"]
    assert result["channel_state"] == "c0"
    assert api.tokens[result["tenant_token"]] == "admin"
    assert result["warnings"] == []
    assert api.corp_known_before_channel  # the API may call WeCom (the sandbox) while creating the channel
    assert result["events_secret"] == api.events_secrets[-1] == "secret0"
    path = tmp_path / seeding.EVENTS_SECRET_FILE
    assert path.read_text().strip() == "secret0" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_events_secret_shown_at_creation_is_kept_across_restarts(tmp_path: Path) -> None:
    api = FakeApi()
    seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["events_secret"] == "secret0" and again["events_secret_source"].startswith("kept")
    assert api.events_secrets == ["secret0"]  # not rotated: what a developer configured keeps working


def test_a_lost_events_secret_is_rotated_once_and_kept(tmp_path: Path) -> None:
    api = FakeApi()
    seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    (tmp_path / seeding.EVENTS_SECRET_FILE).unlink()
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["events_secret"] == "secret1" and again["events_secret_source"].startswith("rotated")
    assert (tmp_path / seeding.EVENTS_SECRET_FILE).read_text().strip() == "secret1"
    third = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert third["events_secret"] == "secret1" and api.events_secrets == ["secret0", "secret1"]


def test_a_fresh_tenant_replaces_a_stale_events_secret_file(tmp_path: Path) -> None:
    (tmp_path / seeding.EVENTS_SECRET_FILE).write_text("from-an-older-database\n")
    result = seeding.seed(API, "adm", SANDBOX, tmp_path, http=FakeApi())
    assert result["events_secret"] == "secret0"
    assert (tmp_path / seeding.EVENTS_SECRET_FILE).read_text().strip() == "secret0"


def test_seed_twice_keeps_one_tenant_one_channel_and_the_same_secrets(tmp_path: Path) -> None:
    api = FakeApi()
    first = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    second = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert not second["tenant_created"] and not second["channel_created"]
    assert len(api.channels) == 1 and second["channel_state"] == first["channel_state"]
    assert second["tenant_token"] == first["tenant_token"] and len(api.tokens) == 1  # reused, none piles up
    assert api.corps["wwdemo0000000001"]["token"] == api.tenants["demo"]["wecom"]["token"]
    assert second["warnings"] == []


def test_seed_warns_when_the_tenant_exists_but_its_secrets_were_lost(tmp_path: Path) -> None:
    api = FakeApi()
    seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    (tmp_path / seeding.DEMO_TENANT_FILE).unlink()
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["warnings"] and "clean-data" in again["warnings"][0]


def test_seed_without_sandbox_skips_registration(tmp_path: Path) -> None:
    api = FakeApi()
    assert seeding.seed(API, "adm", None, tmp_path, http=api)["sandbox_registered"] is False
    assert api.corps == {}


def test_seed_failure_names_request_status_and_body(tmp_path: Path) -> None:
    with pytest.raises(seeding.SeedError) as caught:
        seeding.seed(API, "wrong", SANDBOX, tmp_path, http=FakeApi())
    message = str(caught.value)
    assert "GET http://127.0.0.1:8000/admin/tenants?limit=100" in message  # its first request
    assert "HTTP 401" in message and "bad admin token" in message


def test_seed_failure_on_a_missing_route_says_so(tmp_path: Path) -> None:
    api = FakeApi()
    api.missing.add("/t/demo/channels")
    with pytest.raises(seeding.SeedError, match="route that does not exist"):
        seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)


def test_banner_has_everything_a_developer_pastes(tmp_path: Path) -> None:
    seeded = seeding.seed(API, "adm", SANDBOX, tmp_path, http=FakeApi())
    state = run.StackState(
        api_url=API,
        sandbox_url=SANDBOX,
        dynamodb_endpoint="http://127.0.0.1:8002",
        dynamodb_kind="DynamoDB Local",
        scheduler_endpoint="http://127.0.0.1:8003",
        settings=SETTINGS,
        admin_token="adm",
        admin_token_source="kept",
        seeded=seeded,
    )
    text = run.banner(state, reload=True)
    for expected in (API, SANDBOX, "http://127.0.0.1:8002", "DynamoDB Local", "adm", seeded["tenant_token"]):
        assert expected in text
    assert f"Events secret  {seeded['events_secret']}" in text
    assert "Pump           NOT RUNNING" in text  # state.pump unset: said plainly, not left out
    assert "never fires them: the pump does" in text
    state.pump = "fires due schedules of group siyu-x every 5 s"
    assert "Pump           fires due schedules of group siyu-x every 5 s" in run.banner(state, reload=True)
    assert f"{SANDBOX}/sandbox/scan" in text
    assert '"state": "c0"' in text and '"corp_id": "wwdemo0000000001"' in text


def test_seeding_an_existing_demo_makes_no_request_the_app_rejects(tmp_path: Path) -> None:
    """Every 4xx is a warning in the app's log: a re-run lists first and creates only what is missing."""
    api = FakeApi()
    seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert api.rejected == []
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert api.rejected == [] and again["warnings"] == []
    assert not again["tenant_created"] and len(api.tenants) == 1 and set(api.staff) == {"zhanglaoshi", "lilaoshi"}


def test_the_demo_tenant_is_found_on_a_later_page_of_the_listing(tmp_path: Path) -> None:
    api = FakeApi()
    seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    api.tenants.update({"aaa": {}, "bbb": {}, "zzz": {}})
    api.page_size = 1  # demo is on the third page
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert not again["tenant_created"] and api.rejected == []


def test_the_tenant_token_is_kept_and_reused_while_it_works(tmp_path: Path) -> None:
    api = FakeApi()
    first = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    path = tmp_path / seeding.TENANT_TOKEN_FILE
    assert path.read_text().strip() == first["tenant_token"] and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["tenant_token_source"].startswith("new")
    second = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert second["tenant_token"] == first["tenant_token"] and second["tenant_token_source"].startswith("kept")
    assert list(api.tokens) == [first["tenant_token"]]  # no second token minted


def test_a_revoked_tenant_token_is_replaced_and_the_new_one_kept(tmp_path: Path) -> None:
    api = FakeApi()
    first = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    del api.tokens[first["tenant_token"]]  # revoked: DELETE /admin/tenants/demo/tokens/<id>
    second = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert second["tenant_token"] != first["tenant_token"] and second["tenant_token"] in api.tokens
    assert "no longer works" in second["tenant_token_source"]
    assert (tmp_path / seeding.TENANT_TOKEN_FILE).read_text().strip() == second["tenant_token"]
    third = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert third["tenant_token"] == second["tenant_token"] and len(api.tokens) == 1


def test_a_new_tenant_never_tries_a_token_kept_from_an_older_database(tmp_path: Path) -> None:
    (tmp_path / seeding.TENANT_TOKEN_FILE).write_text("sy_demo_from_before_clean_data\n")
    api = FakeApi()
    result = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert result["tenant_token"] in api.tokens and api.rejected == []  # not even one 401 in the app's log


def test_the_events_secret_file_follows_the_stored_secret(tmp_path: Path) -> None:
    path = tmp_path / seeding.EVENTS_SECRET_FILE
    assert seeding.refresh_events_secret(tmp_path, "s1") is True
    assert path.read_text().strip() == "s1" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seeding.refresh_events_secret(tmp_path, "s1") is False  # unchanged: not rewritten
    assert seeding.refresh_events_secret(tmp_path, "s2") is True and path.read_text().strip() == "s2"
    assert seeding.refresh_events_secret(tmp_path, None) is False and path.read_text().strip() == "s2"


def test_the_demo_gets_its_script_library_once(tmp_path: Path) -> None:
    api = FakeApi()
    first = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert first["scripts_created"] == len(api.scripts) >= 4
    assert first["content_created"] == len(api.content) == 2
    assert {s["scene"] for s in api.scripts} == {"icebreak", "discovery", "objection", "closing"}
    again = seeding.seed(API, "adm", SANDBOX, tmp_path, http=api)
    assert again["scripts_created"] == 0 and len(api.scripts) == first["scripts_created"]  # ops' edits are kept
    assert again["content_created"] == 0 and len(api.content) == 2
    assert api.rejected == []
