"""Network failures while binding, the same for GitHub and both Bitbucket flavours.

Each forge names itself in the detail; the forgesim world of each provider is made by
``make_forge`` (conftest). GitLab's counterparts live in ``test_gitlab_failures.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from buildsvc.sources.base import ProviderName
from tests.buildsvc.sources.conftest import (
    SELF_SIGNED,
    ForgeWorld,
    bind_unreachable,
    closed_port,
    source_settings,
)


@dataclass(frozen=True)
class Case:
    provider: ProviderName
    forge: str  # how the detail names the forge
    user_path: str  # the first bind call's path pattern, slowed down for the timeout
    dns_host: str
    dns_detail_is_exact: bool  # else only its start is pinned


CASES = [
    Case("github", "GitHub", r"/api/v3/user$", "github.no-such-host.invalid", True),
    Case("bitbucket", "Bitbucket", r"/2\.0/user$", "bitbucket.no-such-host.invalid", True),
    Case(
        "bitbucket-server",
        "Bitbucket Server",
        r"/rest/api/1\.0/users/alice$",
        "bitbucket.no-such-host.invalid",
        False,
    ),
]


@pytest.fixture(params=CASES, ids=[case.provider for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    chosen: Case = request.param
    return chosen


@pytest.fixture
def world(case: Case, make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge(case.provider)


async def test_connection_refused(world: ForgeWorld) -> None:
    port = closed_port()
    detail = await bind_unreachable(world, url=f"http://127.0.0.1:{port}")
    assert detail.startswith(f"connection refused by 127.0.0.1:{port}")


async def test_dns_failure(case: Case, world: ForgeWorld) -> None:
    detail = await bind_unreachable(world, url=f"https://{case.dns_host}")
    expected = f"DNS lookup failed for {case.dns_host}: the host name does not resolve"
    if case.dns_detail_is_exact:
        assert detail == expected
    else:
        assert detail.startswith(f"DNS lookup failed for {case.dns_host}")


async def test_timeout(case: Case, make_forge: Callable[..., ForgeWorld]) -> None:
    world = make_forge(case.provider, settings=source_settings(source_timeout_seconds=0.3))
    world.forge.admin.set_fault(case.user_path, delay_ms=1500)
    assert await bind_unreachable(world) == f"timeout: {case.forge} did not answer within 0.3 s"


async def test_tls_not_trusted_then_trusted(
    case: Case, make_forge: Callable[..., ForgeWorld]
) -> None:
    world = make_forge(case.provider, tls_self_signed=True)
    assert await bind_unreachable(world) == SELF_SIGNED
    assert world.forge.ca_file is not None
    world.ca_cert = world.forge.ca_file.read_text()
    client = await world.client()
    assert (await client.get_repository(world.repo)).full_path == world.repo
