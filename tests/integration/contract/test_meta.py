"""The contract suite covers every repository method, on both stores: a new method without a contract test, or
without its fake or its DynamoStore delegation, fails here (no DynamoDB needed)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any, get_type_hints

import pytest

from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.repositories import Repositories
from chalicelib.adapters.dynamodb.store import DynamoStore
from tests.fakes.store import FakeStore
from tests.integration.contract.registry import CONTRACT_MODULES, COVERED

REPOSITORIES: list[type[DynamoBase]] = list(get_type_hints(Repositories).values())


def public_methods(cls: type) -> list[str]:
    """The repository's own public methods (what the base offers is not a repository method)."""
    return sorted(n for n, v in vars(cls).items() if inspect.isfunction(v) and not n.startswith("_"))


@pytest.fixture(scope="module")
def covered() -> dict[str, list[Any]]:
    for name in CONTRACT_MODULES:
        importlib.import_module(name)
    return COVERED


def test_every_repository_is_composed() -> None:
    assert len(REPOSITORIES) == len(dataclasses.fields(Repositories)) >= 10
    assert all(issubclass(cls, DynamoBase) for cls in REPOSITORIES)


@pytest.mark.parametrize("repo", REPOSITORIES, ids=lambda cls: cls.__name__)
def test_every_repository_method_has_a_contract_test_on_both_stores(
    repo: type[DynamoBase], covered: dict[str, list[Any]]
) -> None:
    missing = [m for m in public_methods(repo) if f"{repo.__name__}.{m}" not in covered]
    assert not missing, f"{repo.__name__}: no contract test covers {missing} (mark one with @covers)"
    for method in public_methods(repo):
        for test in covered[f"{repo.__name__}.{method}"]:
            # The two-store fixture: the test runs on DynamoDB Local and on the fake.
            assert "store" in inspect.signature(test).parameters, f"{test.__name__} does not take `store`"


@pytest.mark.parametrize("repo", REPOSITORIES, ids=lambda cls: cls.__name__)
def test_both_stores_offer_every_repository_method(repo: type[DynamoBase]) -> None:
    for method in public_methods(repo):
        assert callable(getattr(FakeStore, method, None)), f"FakeStore lacks {method}"
        delegate = getattr(DynamoStore, method, None)
        assert delegate is not None and delegate.__name__ == method, f"DynamoStore does not delegate {method}"
        assert getattr(delegate, "__wrapped__", None) is getattr(repo, method), f"DynamoStore.{method} goes elsewhere"


def test_the_registry_names_only_methods_that_exist(covered: dict[str, list[Any]]) -> None:
    known = {f"{cls.__name__}.{m}" for cls in REPOSITORIES for m in public_methods(cls)}
    assert set(covered) <= known, set(covered) - known
