"""Request idempotency for admin creates (``Idempotency-Key`` header), on Powertools' DynamoDB persistence layer.

A client that retries ``POST /channels`` after a timeout must not get a second WeCom QR code: the first response is
stored for 24 h under (tenant, route, key) and replayed. A failing call leaves no record, so a retry runs again.
Powertools is imported on first use only: most requests never carry the header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.errors import ConflictError, UpstreamError
from chalicelib.settings import Settings

EXPIRES_AFTER_SECONDS = 24 * 3600


class IdempotentRequests:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._layer: Any = None

    def _persistence(self) -> Any:
        if self._layer is None:
            import boto3
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

            client = boto3.client(
                "dynamodb", region_name=self.settings.region, endpoint_url=self.settings.dynamodb_endpoint
            )
            self._layer = DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table_name, boto3_client=client)
        return self._layer

    def run(
        self, scope: str, key: str, body: dict[str, Any], fn: Callable[[], dict[str, Any]], lambda_context: Any = None
    ) -> dict[str, Any]:
        """``fn()`` once per (scope, key); a repeat with the same body gets the stored result."""
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        config = IdempotencyConfig(
            event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=EXPIRES_AFTER_SECONDS
        )
        if lambda_context is not None:
            config.register_lambda_context(lambda_context)

        @idempotent_function(data_keyword_argument="request", persistence_store=self._persistence(), config=config)
        def once(request: dict[str, Any]) -> dict[str, Any]:
            return fn()

        try:
            return once(request={"key": f"{scope}#{key}", "body": body})
        except IdempotencyAlreadyInProgressError as exc:
            raise ConflictError("a request with this Idempotency-Key is still in progress; retry shortly") from exc
        except IdempotencyValidationError as exc:
            raise ConflictError("this Idempotency-Key was already used with a different request body") from exc
        except IdempotencyPersistenceLayerError as exc:
            raise UpstreamError("the idempotency store failed") from exc
