"""`buildsvc serve` / `buildsvc worker` refuse to start with one line; `admin check` prints
one line per item. Real processes, real misconfigurations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.common.servers import free_port


def _buildsvc(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSVC_")}
    env.update({f"BUILDSVC_{k.upper()}": v for k, v in settings.items()})
    env["BUILDSVC_DATA_DIR"] = str(tmp_path / "var")
    return subprocess.run(
        [sys.executable, "-m", "buildsvc", *args],
        cwd=tmp_path,  # no stray .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_worker_without_its_docker_engine_stops_with_one_line(tmp_path: Path) -> None:
    result = _buildsvc(tmp_path, "worker", docker_url=f"unix://{tmp_path}/docker.sock")

    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: worker cannot start: docker: no Docker engine answers")
    assert "BUILDSVC_DOCKER_URL" in line


def test_an_api_without_its_database_stops_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://buildsvc:pw-not-shown@127.0.0.1:{free_port()}/buildsvc"

    result = _buildsvc(tmp_path, "serve", "--port", str(free_port()), database_url=url)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, lines  # the variable, what is wrong, the fix
    assert "BUILDSVC_DATABASE_URL" in lines[0]
    assert "cannot be opened" in lines[0]
    assert "pw-not-shown" not in result.stderr


def test_admin_check_prints_one_line_per_item_and_fails(tmp_path: Path) -> None:
    closed = free_port()

    result = _buildsvc(
        tmp_path,
        "admin",
        "check",
        redis_url=f"redis://127.0.0.1:{closed}/0",
        registry=f"127.0.0.1:{closed}",
        docker_url=f"unix://{tmp_path}/docker.sock",
        public_url=f"http://127.0.0.1:{closed}",
    )

    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    items = [line.split(":", 1)[0].split(maxsplit=1)[1] for line in lines]
    expected = ["database", "redis", "registry", "docker", "public_url", "registry settings"]
    assert items == expected
    assert [line.split()[0] for line in lines] == ["FAIL"] * 6  # never migrated, all closed
    assert all(" -- fix: " in line for line in lines)
