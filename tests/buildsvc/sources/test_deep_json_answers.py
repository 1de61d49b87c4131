"""A forge answering JSON too deep for ``json`` to decode (a RecursionError in any of the
client libraries, or in our reading of an error body) is the documented error response,
not a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE, SourceErrorResponse
from tests.buildsvc.sources.conftest import Binds, ForgeWorld, World, bind_refused

USERS = {
    "gitlab": r"/api/v4/user$",
    "github": r"/api/v3/user$",
    "bitbucket": r"/2\.0/user$",
    "bitbucket-server": r"/rest/api/1\.0/users/alice$",
}
REPOSITORY = r"(?i)/acme(%2F|/)(repos/)?app$"
BODIES = {
    "too deep": "[" * 100_000,
    # Decodes in a shallow stack, but not in a client library's: ~1000 is Python's limit.
    "nearly too deep": '{"message":' + "[" * 990 + "]" * 990 + "}",
}


@pytest.fixture(params=list(USERS))
def world(
    request: pytest.FixtureRequest,
    make_world: Callable[..., World],
    make_forge: Callable[..., ForgeWorld],
) -> Binds:
    return make_world() if request.param == "gitlab" else make_forge(request.param)


def check_detail(detail: str, status: int) -> None:
    """Named as a body we cannot decode, or by the status when the body was only a detail."""
    undecodable = detail.endswith(("JSON nested too deep to decode", "not valid JSON"))
    assert undecodable or (status != 200 and f" answered {status} " in detail), detail


@pytest.mark.parametrize("status", [200, 401, 503])
@pytest.mark.parametrize("body", BODIES)
async def test_a_deep_answer_while_binding(world: Binds, status: int, body: str) -> None:
    world.forge.admin.set_fault(
        USERS[world.provider.name],
        status=status,
        body=BODIES[body],
        content_type="application/json",
    )
    check_detail(await bind_refused(world), status)


@pytest.mark.parametrize("status", [200, 503])
@pytest.mark.parametrize("body", BODIES)
async def test_a_deep_answer_to_a_client_call(world: Binds, status: int, body: str) -> None:
    binding, credentials = await world.bind()
    client = world.provider.client(binding, credentials)
    world.forge.admin.set_fault(
        REPOSITORY, status=status, body=BODIES[body], content_type="application/json"
    )
    path = "ACME/app" if world.provider.name == "bitbucket-server" else "acme/app"
    with pytest.raises(SourceErrorResponse) as raised:
        await client.get_repository(path)
    assert raised.value.message == SOURCE_ERROR_RESPONSE_MESSAGE
    check_detail(raised.value.detail or "", status)
