"""``scripts/services.sh`` (what ``make services`` runs) is idempotent on a running stack.

Stopping is left out on purpose: other tests and sessions share these services.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.common.e2e_stack import ROOT
from tests.common.services import ensure_services

pytestmark = pytest.mark.e2e
SCRIPT = ROOT / "scripts" / "services.sh"
PIDFILES = ("registry.pid", "redis.pid", "dockerd.pid")


def services(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=300, check=False
    )


def pids() -> dict[str, str]:
    run = ROOT / "var" / "run"
    return {
        name: Path(run / name).read_text().strip() for name in PIDFILES if (run / name).exists()
    }


def test_start_twice_leaves_the_running_services_alone() -> None:
    ensure_services()
    before = pids()
    for _ in range(2):
        started = services("start")
        assert started.returncode == 0, started.stdout + started.stderr
        for name in ("dockerd", "registry", "redis"):
            assert f"services: {name}: running" in started.stdout, started.stdout
        assert "started" not in started.stdout
    assert pids() == before

    status = services("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "base image buildsvc/busybox:latest: present" in status.stdout


def test_an_unknown_command_is_refused_with_the_usage() -> None:
    result = services("restart")
    assert result.returncode == 2
    assert "usage:" in result.stderr
