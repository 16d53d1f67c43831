"""One frozen Settings, read lazily from the environment. Every environment name Siyu reads is a constant here.

Nothing reads the environment at import time: Chalice's test client applies stage variables only during a call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_STAGE = "SIYU_STAGE"
ENV_TABLE = "SIYU_TABLE"
ENV_IDEMPOTENCY_TABLE = "SIYU_IDEMPOTENCY_TABLE"
ENV_DYNAMODB_ENDPOINT = "SIYU_DYNAMODB_ENDPOINT"
ENV_SCHEDULER_ENDPOINT = "SIYU_SCHEDULER_ENDPOINT"
ENV_SCHEDULE_GROUP = "SIYU_SCHEDULE_GROUP"
ENV_WECOM_BASE_URL = "SIYU_WECOM_BASE_URL"
ENV_WECOM_TIMEOUT = "SIYU_WECOM_TIMEOUT_SECONDS"
ENV_ADMIN_TOKEN = "SIYU_ADMIN_TOKEN"
ENV_MAX_CALLBACK_BYTES = "SIYU_MAX_CALLBACK_BYTES"
ENV_TENANT_CACHE_SECONDS = "SIYU_TENANT_CACHE_SECONDS"
ENV_REGION = "AWS_DEFAULT_REGION"
ENV_FIRE_TARGET_ARN = "SIYU_FIRE_TARGET_ARN"
ENV_SCHEDULER_ROLE_ARN = "SIYU_SCHEDULER_ROLE_ARN"
ENV_SCHEDULE_DLQ_ARN = "SIYU_SCHEDULE_DLQ_ARN"
ENV_CLOCK_FILE = "SIYU_CLOCK_FILE"
ENV_FIRE_SHARD_SIZE = "SIYU_FIRE_SHARD_SIZE"
ENV_CALLBACK_BUDGET = "SIYU_CALLBACK_BUDGET_SECONDS"
ENV_REPAIR_QUEUE_URL = "SIYU_REPAIR_QUEUE_URL"
ENV_REPAIR_DLQ_URL = "SIYU_REPAIR_DLQ_URL"
ENV_SECRETS = "SIYU_SECRETS"
ENV_SECRETS_PREFIX = "SIYU_SECRETS_PREFIX"
ENV_SSM_ENDPOINT = "SIYU_SSM_ENDPOINT"
ENV_CONSOLE_URL = "SIYU_CONSOLE_URL"
ENV_WECOM_OAUTH_URL = "SIYU_WECOM_OAUTH_URL"
ENV_JSSDK_URL = "SIYU_JSSDK_URL"
ENV_BLOB_BUCKET = "SIYU_BLOB_BUCKET"
ENV_S3_ENDPOINT = "SIYU_S3_ENDPOINT"
LOCAL_STAGE = "local"
# Stages that never run in an AWS account: only these may keep secrets in the table or take the admin token from the
# environment (docs/deploy.md, "Secrets"). Every other stage reads both from SSM Parameter Store.
OFFLINE_STAGES = frozenset({LOCAL_STAGE, "test"})
SECRETS_SSM = "ssm"
SECRETS_TABLE = "table"
LOCAL_FIRE_TARGET_ARN = "arn:aws:lambda:us-east-1:000000000000:function:siyu-local-fire"
LOCAL_SCHEDULER_ROLE_ARN = "arn:aws:iam::000000000000:role/siyu-local-scheduler"

DEFAULT_WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_WECOM_OAUTH_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"  # WeCom's web sign-in (91335)
DEFAULT_JSSDK_URL = "https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js"  # wx.agentConfig (90547)
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8000"
DEFAULT_FIRE_SHARD_SIZE = 500  # touches per fire invocation (issue 8 §7; docs/operations.md, "A fire that fans out")
DEFAULT_CALLBACK_BUDGET = 3.0  # seconds a WeCom callback may spend (WeCom waits 5 s; docs/operations.md)


@dataclass(frozen=True)
class Settings:
    stage: str = LOCAL_STAGE
    table_name: str = "siyu-local"
    idempotency_table_name: str = "siyu-local-idempotency"
    dynamodb_endpoint: str | None = None
    scheduler_endpoint: str | None = None
    schedule_group: str = "siyu-local"
    region: str = "us-east-1"
    wecom_base_url: str = DEFAULT_WECOM_BASE_URL
    wecom_timeout_seconds: float = 3.0
    admin_token: str | None = None  # offline stages only; deployed stages read SSM's admin-token
    max_callback_bytes: int = 64 * 1024
    tenant_cache_seconds: float = 60.0
    fire_target_arn: str = LOCAL_FIRE_TARGET_ARN
    scheduler_role_arn: str = LOCAL_SCHEDULER_ROLE_ARN
    schedule_dlq_arn: str | None = None
    fire_shard_size: int = DEFAULT_FIRE_SHARD_SIZE  # a bucket with more scheduled touches fans out into shards
    clock_file: str | None = None  # the local stack's movable clock; honoured only in the local stage
    callback_budget_seconds: float = DEFAULT_CALLBACK_BUDGET
    repair_queue_url: str | None = None  # SQS (deployed); None: the repair queue lives in the table
    repair_dlq_url: str | None = None  # its dead-letter queue, where given-up repairs go with their reason
    secrets: str = SECRETS_TABLE  # where tenant credentials live: "ssm", or "table" (offline stages only)
    secrets_prefix: str = "/siyu-local"  # SSM parameter names start with it (``/<stack name>`` deployed)
    ssm_endpoint: str | None = None
    console_url: str = DEFAULT_CONSOLE_URL  # the console's public origin (OAuth redirect_uri, links in alerts)
    wecom_oauth_url: str = DEFAULT_WECOM_OAUTH_URL  # the sandbox's sign-in page offline
    jssdk_url: str = DEFAULT_JSSDK_URL  # the WeCom JS-SDK the chat sidebar loads (the sandbox's player offline)
    blob_bucket: str = "siyu-local-blobs"  # attachments (素材库) and proofs: ports/blobs.py
    s3_endpoint: str | None = None

    @property
    def movable_clock(self) -> str | None:
        """The clock file to read, or None: a deployed stage always runs on the real time."""
        return self.clock_file if self.stage == LOCAL_STAGE else None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        stage = e.get(ENV_STAGE, LOCAL_STAGE)
        offline = stage in OFFLINE_STAGES
        secrets = e.get(ENV_SECRETS, SECRETS_TABLE) if offline else SECRETS_SSM
        return cls(
            stage=stage,
            table_name=e.get(ENV_TABLE, f"siyu-{stage}"),
            idempotency_table_name=e.get(ENV_IDEMPOTENCY_TABLE, f"siyu-{stage}-idempotency"),
            dynamodb_endpoint=e.get(ENV_DYNAMODB_ENDPOINT) or None,
            scheduler_endpoint=e.get(ENV_SCHEDULER_ENDPOINT) or None,
            schedule_group=e.get(ENV_SCHEDULE_GROUP, f"siyu-{stage}"),
            region=e.get(ENV_REGION) or e.get("AWS_REGION") or "us-east-1",
            wecom_base_url=(e.get(ENV_WECOM_BASE_URL) or DEFAULT_WECOM_BASE_URL).rstrip("/"),
            wecom_timeout_seconds=float(e.get(ENV_WECOM_TIMEOUT, "3")),
            admin_token=(e.get(ENV_ADMIN_TOKEN) or None) if offline else None,  # deployed: SSM only
            max_callback_bytes=int(e.get(ENV_MAX_CALLBACK_BYTES, str(64 * 1024))),
            tenant_cache_seconds=float(e.get(ENV_TENANT_CACHE_SECONDS, "60")),
            fire_target_arn=e.get(ENV_FIRE_TARGET_ARN) or LOCAL_FIRE_TARGET_ARN,
            scheduler_role_arn=e.get(ENV_SCHEDULER_ROLE_ARN) or LOCAL_SCHEDULER_ROLE_ARN,
            schedule_dlq_arn=e.get(ENV_SCHEDULE_DLQ_ARN) or None,
            clock_file=e.get(ENV_CLOCK_FILE) or None,
            fire_shard_size=max(1, int(e.get(ENV_FIRE_SHARD_SIZE) or DEFAULT_FIRE_SHARD_SIZE)),
            callback_budget_seconds=min(4.5, max(0.5, float(e.get(ENV_CALLBACK_BUDGET) or DEFAULT_CALLBACK_BUDGET))),
            repair_queue_url=e.get(ENV_REPAIR_QUEUE_URL) or None,
            repair_dlq_url=e.get(ENV_REPAIR_DLQ_URL) or None,
            secrets=secrets if secrets in (SECRETS_SSM, SECRETS_TABLE) else SECRETS_SSM,
            secrets_prefix=(e.get(ENV_SECRETS_PREFIX) or f"/siyu-{stage}").rstrip("/"),
            ssm_endpoint=e.get(ENV_SSM_ENDPOINT) or None,
            console_url=(e.get(ENV_CONSOLE_URL) or DEFAULT_CONSOLE_URL).rstrip("/"),
            wecom_oauth_url=e.get(ENV_WECOM_OAUTH_URL) or DEFAULT_WECOM_OAUTH_URL,
            jssdk_url=e.get(ENV_JSSDK_URL) or DEFAULT_JSSDK_URL,
            blob_bucket=e.get(ENV_BLOB_BUCKET) or f"siyu-{stage}-blobs",
            s3_endpoint=e.get(ENV_S3_ENDPOINT) or None,
        )


def get_settings() -> Settings:
    """Settings as the environment says now (cheap; callers that cache adapters key them on the result)."""
    return Settings.from_env()
