"""schemathesis against ``/api/v1/openapi.json`` of a running app, with an account token.

Every documented operation gets generated requests (valid and invalid); schemathesis's
checks then assert no 5xx, documented status codes and content types, and bodies and
headers that match the schema. The account holds a repository with a finished build and
its log, so some ids hit real rows. Examples are bounded to keep the run under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from buildsvc.builds import logs
from buildsvc.store.models import utcnow
from buildsvc.web.keys import SESSIONMAKER
from tests.common.api_stack import ServerThread, stack_settings
from tests.common.factories import add_build, add_repository

REDIS_DB = 9
MAX_EXAMPLES = 25


async def _seed(server: ServerThread, account_id: int) -> None:
    async with server.app[SESSIONMAKER].begin() as session:
        repo = await add_repository(session, account_id, forge_hook_id=None)
        now = utcnow()
        build = await add_build(
            session,
            account_id,
            repo.id,
            status="succeeded",
            fetching_at=now,
            building_at=now,
            pushing_at=now,
            finished_at=now,
            digest="sha256:" + "ab" * 32,
        )
        await logs.store(session, build.id, [logs.LogLine(1, now, "Step 1/1 : FROM scratch")])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str]]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    server = ServerThread(stack_settings(root, REDIS_DB)).start()
    try:
        token = server.create_account("schemathesis")
        from buildsvc.accounts.services import authenticate

        account_id = server.run(authenticate(server.app[SESSIONMAKER], token))
        server.run(_seed(server, account_id))
        yield server, token
    finally:
        server.stop()


def _fuzz(operation: Any, mode: GenerationMode, token: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            excluded_checks=[
                # Valid JSON is not always a valid request: image names, rule templates
                # and the forge's own checks are validated by services, beyond JSON Schema.
                positive_data_acceptance,
                # Unknown query parameters are ignored on purpose (forward compatibility).
                negative_data_rejection,
            ],
        )

    run()


def test_api_conforms_to_its_description(running: tuple[ServerThread, str]) -> None:
    server, token = running
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        has_input = bool(operation.path_parameters or operation.query or operation.body)
        for mode in GenerationMode if has_input else [GenerationMode.POSITIVE]:
            try:
                _fuzz(operation, mode, token)
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report them at once
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
