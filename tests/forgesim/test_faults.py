"""Injected faults as a client sees them: error answers, HTML, slowness, resets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from forgesim import AdminError, Forge
from tests.forgesim.conftest import World


def test_injected_500_with_html(gl: gitlab.Gitlab, forge: Forge, world: World) -> None:
    forge.admin.set_fault(r"^/api/v4/user$", status=500, body="<html><h1>Oops</h1></html>")
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gl.auth()
    assert caught.value.response_code == 500
    resp = requests.get(
        forge.api_url + "/user", headers={"PRIVATE-TOKEN": world.tokens["alice"]}, timeout=5
    )
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.text == "<html><h1>Oops</h1></html>"
    forge.admin.clear_faults()
    gl.auth()


def test_fault_with_json_body_and_times(forge: Forge, world: World) -> None:
    forge.admin.set_fault("/projects", status=502, body='{"message":"bad gateway"}', times=1)
    headers = {"PRIVATE-TOKEN": world.tokens["alice"]}
    first = requests.get(forge.api_url + "/projects", headers=headers, timeout=5)
    assert (first.status_code, first.json()) == (502, {"message": "bad gateway"})
    second = requests.get(forge.api_url + "/projects", headers=headers, timeout=5)
    assert second.status_code == 200


def test_delay_beyond_client_timeout(forge: Forge, world: World, gl_as: Any) -> None:
    forge.admin.set_fault("/user$", delay_ms=1500)
    client = gl_as("alice", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        client.auth()
    assert time.monotonic() - started < 1.4


def test_delay_then_normal_answer(forge: Forge, world: World) -> None:
    forge.admin.set_fault("/version$", delay_ms=200)
    started = time.monotonic()
    resp = requests.get(
        forge.api_url + "/version", headers={"PRIVATE-TOKEN": world.tokens["bob"]}, timeout=5
    )
    assert resp.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_reset_connection(gl: gitlab.Gitlab, forge: Forge) -> None:
    forge.admin.set_fault("/projects", reset=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        gl.projects.list()


def test_faults_never_touch_the_admin_api(forge: Forge) -> None:
    forge.admin.set_fault(".*", status=500)
    forge.admin.create_user("erin")  # still answered
    forge.admin.clear_faults()


def test_bad_fault_is_rejected(forge: Forge) -> None:
    with pytest.raises(AdminError) as caught:
        forge.admin.set_fault("(unclosed")
    assert caught.value.status == 400


def test_faults_apply_to_git_too(forge: Forge, world: World, git: Any, tmp_path: Path) -> None:
    forge.admin.set_fault(r"\.git/info/refs$", status=503, body="<html>down</html>")
    url = forge.git_url_with_token("acme/app", world.tokens["alice"])
    failed = git("clone", url, str(tmp_path / "a"), check=False)
    assert failed.returncode != 0
    assert "503" in failed.stderr
    forge.admin.clear_faults()
    git("clone", "-q", url, str(tmp_path / "b"))
