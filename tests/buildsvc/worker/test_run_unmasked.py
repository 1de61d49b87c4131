"""A build with secret build args leaves no unmasked image reachable, and names none.

Docker records the build args a RUN step used in the image config; the worker pushes
the image as built, then replaces its config in the registry with a masked one. The
image as built (its manifest, and its config blob in the repository) must then be gone
from the registry, and the log must name neither, with either builder.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from tests.buildsvc.worker.helpers import untag_all
from tests.buildsvc.worker.run_env import RunEnv, run_env_fixture  # noqa: F401
from tests.common.registry_fronts import FlakyRegistry, ServerFactory
from tests.common.registry_http import registry_image, stored_answers

pytestmark = pytest.mark.e2e

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DOCKERFILE = "FROM buildsvc/busybox:latest\nARG API_KEY\nRUN echo ${#API_KEY} > /len\n"


@pytest.mark.parametrize("builder", ["buildkit", "legacy"])
async def test_no_unmasked_object_stays_reachable(env: RunEnv, builder: str) -> None:
    env.deps.settings = env.settings.model_copy(update={"build_builder": builder})
    secret = "unmasked-" + "z" * 16
    sha = env.push({"Dockerfile": DOCKERFILE})
    tags = [f"{env.image}:latest", f"{env.image}:{sha[:7]}"]
    build_id = await env.add_build(
        sha, tags=tags, build_args={"API_KEY": secret}, secret_build_args=["API_KEY"], no_cache=True
    )

    result = await env.run(build_id)

    build = await env.build(build_id)
    assert result == "succeeded", build.error_detail
    digest = build.digest
    for tag in tags:
        assert registry_image(env.services, tag).digest == digest
    text = "\n".join(line for _, line in await env.log(build_id))
    named = set(DIGEST.findall(text))
    assert digest in named  # the log names the digest that was finally pushed
    for found in sorted(named):
        for kind, body in stored_answers(env.services, env.image, found).items():
            assert secret.encode() not in body, f"{found} as a {kind} holds the secret"
    # The image as built (the engine keeps it): named nowhere, reachable nowhere.
    local = env.deps.docker.inspect_image(tags[0])
    unmasked = [local["Id"]] + [name.split("@")[1] for name in local["RepoDigests"]]
    assert len(unmasked) == 2, local["RepoDigests"]
    for old in unmasked:
        assert old.removeprefix("sha256:")[:12] not in text
        assert stored_answers(env.services, env.image, old) == {}


async def test_an_image_that_could_not_be_masked_is_deleted(
    env: RunEnv, aiohttp_server: ServerFactory
) -> None:
    # The engine's push passes; the masked manifest's PUT fails, and is not retried.
    flaky = FlakyRegistry(env.services.registry, failures=1, passed=1)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{path:.*}", flaky.handle)
    server = await aiohttp_server(app)
    env.deps.settings = env.settings.model_copy(update={"registry_push_attempts": 1})
    path = env.image.split("/", 1)[1]
    front = f"127.0.0.1:{server.port}/{path}"
    secret = "unmasked-" + "w" * 16
    sha = env.push({"Dockerfile": DOCKERFILE})
    build_id = await env.add_build(
        sha,
        tags=[f"{front}:latest"],
        build_args={"API_KEY": secret},
        secret_build_args=["API_KEY"],
        no_cache=True,
    )
    try:
        assert await env.run(build_id) == "failed"

        assert (await env.build(build_id)).error_code == "REGISTRY_UNAVAILABLE"
        local = env.deps.docker.inspect_image(f"{front}:latest")
        [pushed] = [name.split("@")[1] for name in local["RepoDigests"]]
        for old in (local["Id"], pushed):  # the tag went with the manifest
            assert stored_answers(env.services, env.image, old) == {}
    finally:
        untag_all(env.deps.docker, front)
