"""The ``buildsvc`` command as a user runs it: real processes, real database and port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from buildsvc.crypto import generate_key
from tests.common.servers import free_port


def cli_env(data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BUILDSVC_")}
    env.update(BUILDSVC_DATA_DIR=str(data_dir), BUILDSVC_REDIS_URL=redis_url, **extra)
    return env


def buildsvc(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "buildsvc", *args],
        cwd=tmp_path,  # no stray .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_create_account_prints_token_last_and_refuses_duplicates(
    tmp_path: Path, redis_url: str
) -> None:
    env = cli_env(tmp_path / "var", redis_url)
    created = buildsvc(tmp_path, env, "admin", "create-account", "acme")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("bsv_")
    assert len(token) == 47
    assert token not in created.stderr  # the logs never carry it

    again = buildsvc(tmp_path, env, "admin", "create-account", "acme")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_rotate_secrets_runs_with_a_new_key_in_front(tmp_path: Path, redis_url: str) -> None:
    keys = f"{generate_key()},{generate_key()}"
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_SECRET_KEYS=keys)
    result = buildsvc(tmp_path, env, "admin", "rotate-secrets")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "re-encrypted 0 stored secrets with the newest key"


def test_help_lists_the_commands(tmp_path: Path, redis_url: str) -> None:
    result = buildsvc(tmp_path, cli_env(tmp_path, redis_url), "--help")
    assert result.returncode == 0
    for command in ["serve", "worker", "admin"]:
        assert command in result.stdout
    admin = buildsvc(tmp_path, cli_env(tmp_path, redis_url), "admin", "--help")
    for command in ["create-account", "migrate", "rotate-secrets"]:
        assert command in admin.stdout


async def test_serve_answers_healthz_and_authenticates(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_PORT=str(port))
    created = await asyncio.to_thread(buildsvc, tmp_path, env, "admin", "create-account", "acme")
    token = created.stdout.strip().splitlines()[-1]

    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "buildsvc",
        "serve",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        assert response.status == 200
                        assert (await response.json())["status"] == "ok"
                        break
                except aiohttp.ClientConnectionError:
                    if server.returncode is not None:
                        break  # died: the assertion below shows why
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("buildsvc serve did not answer within 30 s")
            assert server.returncode is None, "buildsvc serve exited early"
            headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "cli-test-1"}
            async with http.get(f"{base}/api/v1/builds", headers=headers) as response:
                assert response.status == 200
                assert await response.json() == {"items": [], "total": 0}
            async with http.get(f"{base}/api/v1/builds") as response:
                assert response.status == 401
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(server.communicate(), timeout=30)
    assert server.returncode == 0, stderr.decode()[-3000:]
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("path") == "/api/v1/builds"]
    assert any(line.get("request_id") == "cli-test-1" for line in access)
    assert token not in stderr.decode()


def fails_at_startup(result: subprocess.CompletedProcess[str], variable: str) -> str:
    """The one to three lines a misconfiguration ends with (exit 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, result.stderr
    assert lines[0].startswith(f"buildsvc: {variable}="), result.stderr
    assert lines[1].startswith("fix: "), result.stderr
    return result.stderr


def test_a_bad_network_list_is_named_before_serving(tmp_path: Path, redis_url: str) -> None:
    # Issue 14: a lone CIDR used to need JSON; a bad one failed after "serving on".
    networks = "127.0.0.0/8,300.0.0.0/8"
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_ALLOWED_SOURCE_NETWORKS=networks)
    stderr = fails_at_startup(buildsvc(tmp_path, env, "serve"), "BUILDSVC_ALLOWED_SOURCE_NETWORKS")
    assert "'300.0.0.0/8' is not a network; expected comma-separated CIDRs" in stderr
    assert "serving on" not in stderr


def test_a_negative_build_timeout_is_refused(tmp_path: Path, redis_url: str) -> None:
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_BUILD_TIMEOUT_SECONDS="-5")
    stderr = fails_at_startup(buildsvc(tmp_path, env, "worker"), "BUILDSVC_BUILD_TIMEOUT_SECONDS")
    assert "should be greater than or equal to 1" in stderr
    assert "unset it for the default (3600)" in stderr


def test_a_malformed_redis_url_is_named(tmp_path: Path, redis_url: str) -> None:
    env = cli_env(tmp_path / "var", "localhost:6379")
    stderr = fails_at_startup(buildsvc(tmp_path, env, "worker"), "BUILDSVC_REDIS_URL")
    assert "expected redis://" in stderr


def test_redis_down_at_worker_start(tmp_path: Path) -> None:
    down = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    stderr = fails_at_startup(
        buildsvc(tmp_path, cli_env(tmp_path / "var", down), "worker"), "BUILDSVC_REDIS_URL"
    )
    assert "Redis does not answer" in stderr
    assert "hunter2" not in stderr  # the password is masked


def test_a_data_dir_that_is_a_file(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "var").write_text("not a directory")
    env = cli_env(tmp_path / "var", redis_url)
    stderr = fails_at_startup(buildsvc(tmp_path, env, "serve"), "BUILDSVC_DATA_DIR")
    assert "is a file, not a directory" in stderr


def test_a_database_under_a_missing_directory_is_not_created(
    tmp_path: Path, redis_url: str
) -> None:
    missing = tmp_path / "missing"
    url = f"sqlite+aiosqlite:///{missing / 'buildsvc.db'}"
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_DATABASE_URL=url)
    result = buildsvc(tmp_path, env, "admin", "create-account", "acme")
    stderr = fails_at_startup(result, "BUILDSVC_DATABASE_URL")
    assert f"the directory {missing} does not exist" in stderr
    assert not missing.exists()


def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path, redis_url: str) -> None:
    database = tmp_path / "garbage.db"
    database.write_bytes(b"this is no SQLite file" * 100)
    url = f"sqlite+aiosqlite:///{database}"
    env = cli_env(tmp_path / "var", redis_url, BUILDSVC_DATABASE_URL=url)
    stderr = fails_at_startup(buildsvc(tmp_path, env, "serve"), "BUILDSVC_DATABASE_URL")
    assert f"the SQLite database {database} cannot be opened: file is not a database" in stderr


def test_create_account_prints_no_migration_lines_and_refuses_bad_names(
    tmp_path: Path, redis_url: str
) -> None:
    env = cli_env(tmp_path / "var", redis_url)
    refused = buildsvc(tmp_path, env, "admin", "create-account", "Bad Name!")
    assert refused.returncode == 1
    assert "lowercase letters and digits" in refused.stderr
    created = buildsvc(tmp_path, env, "admin", "create-account", "acme")
    assert created.returncode == 0, created.stderr
    assert "Running upgrade" not in created.stderr
    assert created.stderr == ""


def test_a_taken_port_is_named_before_anything_runs(tmp_path: Path, redis_url: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = cli_env(tmp_path / "var", redis_url, BUILDSVC_PORT=str(port))
        stderr = fails_at_startup(buildsvc(tmp_path, env, "serve"), "BUILDSVC_HOST:BUILDSVC_PORT")
    assert f"127.0.0.1:{port}: cannot listen there (Address already in use)" in stderr
    assert not (tmp_path / "var").exists()  # not even the database was made
