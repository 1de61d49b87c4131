"""Fixtures: the service's registry (``source``: token auth, as buildsvc's registry) and
two "regions" (htpasswd), all real ``docker-registry`` processes of the test's own;
``region3`` speaks TLS with a self-signed certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.registries import Registry, token_source
from tests.common.registries import running_registry as _running


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Registry]:
    yield from token_source(tmp_path / "source")


@pytest.fixture
def region2() -> Iterator[Registry]:
    yield from _running()


@pytest.fixture
def region3() -> Iterator[Registry]:
    yield from _running(tls=True)
