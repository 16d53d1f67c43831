"""The environment variables that could point boto3 at a real account or another endpoint.

The tests and the bench remove them from their own process before anything talks to AWS: one list for both.
Import-light on purpose (no boto3), so tests/conftest.py can use it before any test module loads.
"""

from __future__ import annotations

UNSAFE_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SCHEDULER",
)
