"""Secrets in SSM Parameter Store (issue 12 §1): a tenant's credentials are one SecureString, the table keeps none of
them; the admin token of a deployed stage comes only from SSM; a stage migrated from the old layout moves each
tenant once, and the operator's commands refuse what they cannot do, clearly."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.jobs import secrets as secrets_job
from chalicelib.settings import Settings
from tests.functional.conftest import ADMIN, TENANT, WECOM, Api

PREFIX = "/siyu-local"


def ssm() -> Any:
    return boto3.client("ssm", region_name="us-east-1")


def tenant_doc(tid: str = TENANT) -> str:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    item = ddb.get_item(TableName="siyu-functional", Key={"pk": {"S": f"T#{tid}"}, "sk": {"S": "TENANT"}})
    return str(item["Item"]["doc"]["S"])


def scan_once(api: Api, token: str) -> int:
    """A staff member, a channel (WeCom's add_contact_way, with the corp secret) and a scan's signed callback."""
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    body = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}, "welcome": {"text": "您好"}}
    channel = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert channel.status_code == 201, channel.body
    return int(api.scan(str(channel.json["state"]))[1].status_code)


def test_a_tenants_credentials_live_in_one_securestring_and_not_in_the_table(api: Api) -> None:
    token = api.create_tenant()
    param = ssm().get_parameter(Name=f"{PREFIX}/tenants/{TENANT}", WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString"
    bundle = json.loads(param["Value"])
    assert bundle["wecom_secret"] == WECOM["secret"] and bundle["wecom_aes_key"] == WECOM["encoding_aes_key"]
    assert len(bundle["events_secret"]) >= 32
    doc = tenant_doc()
    for value in (WECOM["secret"], WECOM["encoding_aes_key"], bundle["events_secret"]):
        assert value not in doc
    assert f'"secrets_version":{param["Version"]}' in doc
    assert scan_once(api, token) == 200  # the credentials work end to end: WeCom calls and a signed callback
    # A rotated WeCom secret is a new version, and the item follows it.
    wecom = {**WECOM, "secret": "rotated-secret-0001"}
    assert api.call("PATCH", f"/admin/tenants/{TENANT}", {"wecom": wecom}, ADMIN).status_code == 200
    after = ssm().get_parameter(Name=f"{PREFIX}/tenants/{TENANT}", WithDecryption=True)["Parameter"]
    assert after["Version"] == param["Version"] + 1 and "rotated-secret-0001" in after["Value"]
    assert f'"secrets_version":{after["Version"]}' in tenant_doc() and "rotated-secret-0001" not in tenant_doc()


def test_a_deployed_stage_takes_the_admin_token_only_from_ssm(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({"SIYU_STAGE": "prod", "SIYU_ADMIN_TOKEN": "from-env"}).admin_token is None
    assert Settings.from_env({"SIYU_STAGE": "prod", "SIYU_SECRETS": "table"}).secrets == "ssm"
    monkeypatch.delenv("SIYU_ADMIN_TOKEN")
    bootstrap.reset()
    body = {"tenant_id": "beta", "name": "乙", "corp_id": "wwbeta", "wecom": WECOM}
    refused = api.call("POST", "/admin/tenants", body, ADMIN)
    assert refused.status_code == 403 and "admin-token" in refused.json["error"]["message"]
    assert secrets_job.main(["set-admin-token"], stdin=io.StringIO("x" * 40 + "\n")) == 0
    assert ssm().get_parameter(Name=f"{PREFIX}/admin-token", WithDecryption=True)["Parameter"]["Type"] == "SecureString"
    api.clock.advance(seconds=61)  # the admin token's cache (one minute)
    assert api.call("POST", "/admin/tenants", body, ADMIN).status_code == 401
    assert api.call("POST", "/admin/tenants", body, "x" * 40).status_code == 201
    assert secrets_job.main(["set-admin-token"], stdin=io.StringIO("short\n")) == 2


def test_migrate_moves_each_tenant_once(api: Api, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("SIYU_SECRETS", "table")  # the old layout: credentials in the item
    bootstrap.reset()
    token = api.create_tenant()
    assert WECOM["secret"] in tenant_doc()
    assert secrets_job.main(["migrate"]) == 2  # offline layout: nothing to migrate to
    monkeypatch.setenv("SIYU_SECRETS", "ssm")
    bootstrap.reset()
    assert secrets_job.main(["migrate"]) == 0
    assert "moved 1 tenant(s), 0 already in SSM" in capsys.readouterr().out
    assert WECOM["secret"] not in tenant_doc()
    assert secrets_job.main(["migrate"]) == 0
    assert "moved 0 tenant(s), 1 already in SSM" in capsys.readouterr().out
    assert scan_once(api, token) == 200  # the migrated tenant's WeCom calls and callbacks still work


def test_a_version_is_read_from_ssm_once_per_container(api: Api) -> None:
    from chalicelib.adapters.secrets import SsmSecrets

    calls: list[str] = []
    client = ssm()
    client.meta.events.register(
        "provide-client-params.ssm.GetParameter", lambda params, **kw: calls.append(params["Name"])
    )
    store = SsmSecrets(client, PREFIX)
    version = store.put("tenants/x", '{"wecom_secret": "s1"}')
    other = SsmSecrets(client, PREFIX)  # another container: its first read goes to SSM
    assert other.get("tenants/x", version) == '{"wecom_secret": "s1"}'
    assert other.get("tenants/x", version) == '{"wecom_secret": "s1"}'
    assert calls == [f"{PREFIX}/tenants/x:1"]
    assert other.get("tenants/x", 9) is None and other.get("tenants/none") is None
