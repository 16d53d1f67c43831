"""Secrets in SSM Parameter Store (SecureString, standard tier, the `aws/ssm` key): docs/deploy.md, "Secrets".

Names are ``<SIYU_SECRETS_PREFIX>/<name>`` (the prefix is ``/<stack name>`` deployed, so the IAM grants in policies/
scope to one stack). Standard parameters cost nothing to keep and nothing to read at the default throughput; a read by
version is immutable, so it is cached for the life of the container and a warm Lambda reads each version once.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import UpstreamError
from chalicelib.settings import Settings

CACHED_VERSIONS = 1024  # versioned reads kept per container (a tenant's bundle is under 1 KB)


class SsmSecrets:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix.rstrip("/")
        self._versions: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = Lock()  # the fire's shards run in threads locally

    @classmethod
    def for_settings(cls, settings: Settings) -> SsmSecrets:
        import boto3  # with the first secret read, not with ``import app``

        client = boto3.client("ssm", region_name=settings.region, endpoint_url=settings.ssm_endpoint)
        return cls(client, settings.secrets_prefix)

    def _name(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def put(self, name: str, value: str) -> int:
        try:
            answer = self.client.put_parameter(
                Name=self._name(name), Value=value, Type="SecureString", Tier="Standard", Overwrite=True
            )
        except (BotoCoreError, ClientError) as exc:  # never the value: it is a secret
            raise UpstreamError("the secret store (SSM) refused the write; try again") from exc
        version = int(answer["Version"])
        self._remember(name, version, value)
        return version

    def get(self, name: str, version: int | None = None) -> str | None:
        if version is not None:
            with self._lock:
                cached = self._versions.get((name, version))
            if cached is not None:
                return cached
        selector = self._name(name) if version is None else f"{self._name(name)}:{version}"
        try:
            answer = self.client.get_parameter(Name=selector, WithDecryption=True)
        except self.client.exceptions.ParameterNotFound:
            return None
        except self.client.exceptions.ParameterVersionNotFound:
            return None
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamError("the secret store (SSM) could not be read; try again") from exc
        value = str(answer["Parameter"]["Value"])
        self._remember(name, int(answer["Parameter"]["Version"]), value)
        return value

    def _remember(self, name: str, version: int, value: str) -> None:
        with self._lock:
            self._versions[(name, version)] = value
            while len(self._versions) > CACHED_VERSIONS:
                self._versions.popitem(last=False)
