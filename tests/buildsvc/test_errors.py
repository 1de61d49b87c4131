"""The whole error tree: every ``ServiceError`` class of every module of the package.

A code is what clients match on, so it means one thing: one status and one default
message wherever a class carries it. Every class can be raised as it is (no argument
needed), so none depends on its raise site to become a complete error.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict

import pytest

import buildsvc
from buildsvc.errors import ServiceError

UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(buildsvc.__path__, f"{buildsvc.__name__}."):
        if module.name.rsplit(".", 1)[-1] == "__main__":  # runs the command line
            continue
        importlib.import_module(module.name)


def _subclasses(cls: type[ServiceError]) -> list[type[ServiceError]]:
    found: list[type[ServiceError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _tree() -> list[type[ServiceError]]:
    _import_every_module()
    classes = {cls for cls in _subclasses(ServiceError) if cls.__module__.startswith("buildsvc.")}
    return sorted(classes, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


TREE = _tree()


def _name(cls: type[ServiceError]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_walk_reaches_every_package() -> None:
    packages = {cls.__module__.split(".")[1] for cls in TREE}
    assert {"accounts", "bindings", "builds", "registry", "repositories", "sources"} <= packages
    assert {"worker", "console", "replication", "notifications", "crypto"} <= packages


def test_each_code_has_one_status_and_one_default_message() -> None:
    statuses: dict[str, set[int]] = defaultdict(set)
    messages: dict[str, set[str]] = defaultdict(set)
    holders: dict[str, list[str]] = defaultdict(list)
    for cls in [ServiceError, *TREE]:
        statuses[cls.code].add(cls.status)
        messages[cls.code].add(cls.default_message)
        holders[cls.code].append(_name(cls))
    assert {code: holders[code] for code, found in statuses.items() if len(found) > 1} == {}
    assert {code: holders[code] for code, found in messages.items() if len(found) > 1} == {}


@pytest.mark.parametrize("cls", TREE, ids=_name)
def test_code_status_and_message_are_complete(cls: type[ServiceError]) -> None:
    assert UPPER_SNAKE.fullmatch(cls.code), cls.code
    assert 400 <= cls.status <= 599
    assert cls.default_message.strip()


@pytest.mark.parametrize("cls", TREE, ids=_name)
def test_every_class_can_be_raised_without_arguments(cls: type[ServiceError]) -> None:
    with pytest.raises(cls) as raised:
        raise cls()
    error = raised.value
    assert (error.code, error.status, error.message) == (
        cls.code,
        cls.status,
        cls.default_message,
    )
    assert error.to_dict() == {"code": cls.code, "message": cls.default_message, "detail": None}
