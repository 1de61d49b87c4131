"""A real ``git push`` to forgesim's GitLab becomes an image in the registry that runs.

Also: a secret never shows, whether the forge token, the registry password or a build
arg marked secret: not in the stored log, the live log, any API answer, nor the output
of the API and worker processes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.common.build_steps import said
from tests.common.e2e_stack import ROOT, Stack
from tests.common.registry_http import registry_image, stored_answers

pytestmark = pytest.mark.e2e
HELLO = ROOT / "examples" / "hello"


def docker(*args: str, config: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["docker", *args],
        input=stdin,
        env={**os.environ, "DOCKER_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_git_push_becomes_an_image_that_runs(stack: Stack, tmp_path: Path) -> None:
    project = stack.new_project()
    rules = [{"type": "branch", "pattern": "main", "tag": "latest,{short_sha}"}]
    repository = stack.link(project, "hello", rules)

    sha = stack.push(project, HELLO, message="hello from the e2e test")
    build_id = stack.wait_new_build(repository["id"])
    events = list(stack.follow(build_id))

    lines = [data["line"] for event, data in events if event == "message"]
    assert events[-1] == ("end", {"status": "succeeded", "error": None})
    assert any(line.startswith("#") and "[1/" in line and "FROM " in line for line in lines)
    build = stack.build(build_id)
    assert (build["commit_sha"], build["trigger"]) == (sha, "push")
    assert build["tags"] == [f"{repository['image']}:latest", f"{repository['image']}:{sha[:7]}"]
    for tag in build["tags"]:
        image = registry_image(stack.services, tag)
        assert image.digest == build["digest"]
        assert image.labels["org.opencontainers.image.revision"] == sha
    assert all(build["durations"][phase] is not None for phase in ("fetching", "pushing"))

    # Pull it back from the registry (not the worker's local copy) and run it.
    config = tmp_path / "docker"
    services = stack.services
    docker(
        "login",
        "-u",
        services.registry_username,
        "--password-stdin",
        services.registry,
        config=config,
        stdin=services.registry_password,
    )
    for tag in build["tags"]:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)
    reference = f"{repository['image']}@{build['digest']}"
    docker("pull", "-q", reference, config=config)
    output = docker("run", "--rm", reference, config=config)
    assert output.splitlines() == [
        "Hello from buildsvc!",
        "This image was built from examples/hello (1.0.0).",
    ]


def test_secrets_never_show(stack: Stack) -> None:
    secret = f"do-not-show-{secrets.token_hex(8)}"
    project = stack.new_project()
    rules = [
        {
            "type": "branch",
            "pattern": "main",
            "tag": "latest",
            "build_args": {"API_KEY": secret},
            "secret_build_args": ["API_KEY"],
            "no_cache": True,
        }
    ]
    repository = stack.link(project, "secrets", rules)
    dockerfile = (
        "FROM buildsvc/busybox:latest\nARG API_KEY\n"
        'RUN echo "key=$API_KEY" && echo "remote $(cat /dev/null)"\n'
    )
    stack.push(project, {"Dockerfile": dockerfile})
    build_id = stack.wait_new_build(repository["id"])
    streamed = list(stack.follow(build_id))
    assert streamed[-1][1]["status"] == "succeeded"

    stored = stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")
    assert said([item["line"] for item in stored["items"]], "key=****")
    seen = [
        repr(streamed),
        repr(stored),
        repr(stack.build(build_id)),
        repr(stack.call("GET", "/api/v1/builds")),
        repr(stack.call("GET", f"/api/v1/repositories/{repository['id']}")),
        repr(stack.call("GET", "/api/v1/sources")),
        stack.log("api"),
        stack.log("worker"),
    ]
    # Docker records the build args a RUN used in the image config: masked there too.
    image = registry_image(stack.services, f"{repository['image']}:latest")
    seen.append(json.dumps(image.config))
    # The image as pushed before the masking is deleted: no digest in the log leads to it.
    for digest in sorted(set(re.findall(r"sha256:[0-9a-f]{64}", repr(stored)))):
        seen.append(repr(stored_answers(stack.services, repository["image"], digest)))
    assert image.digest == stack.build(build_id)["digest"]
    for needle in (secret, stack.forge_token, stack.services.registry_password):
        leaks = [index for index, text in enumerate(seen) if needle in text]
        assert leaks == [], f"a secret shows in {leaks}"
