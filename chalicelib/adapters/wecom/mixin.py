"""The base of WeComClient's API families (groups, statistics, tickets, application messages): each is a mixin that
calls the client's ``_api`` (token, retries, errcode mapping), declared once here for the type checker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials


class ApiMixin:
    """A family of WeCom APIs on WeComClient; ``_api`` is the client's (client.py)."""

    if TYPE_CHECKING:

        def _api(
            self,
            creds: WeComCredentials,
            api: str,
            body: dict[str, Any] | None,
            *,
            method: str = "POST",
            query: dict[str, str] | None = None,
        ) -> dict[str, Any]: ...
