"""Fixtures: the service's registry (``source``) and two "regions", all real
``docker-registry`` processes of the test's own; ``region3`` speaks TLS with a
self-signed certificate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.common.registries import Registry
from tests.common.registries import running_registry as _running


@pytest.fixture
def source() -> Iterator[Registry]:
    yield from _running()


@pytest.fixture
def region2() -> Iterator[Registry]:
    yield from _running()


@pytest.fixture
def region3() -> Iterator[Registry]:
    yield from _running(tls=True)
