"""A real Distribution registry started with ``buildsvc admin registry-config``, the API
it trusts on a real port, and the real docker CLI with a login store of its own.

``RegistryStack`` is what the ``registry_stack`` fixture yields: ``.registry``
(``127.0.0.1:PORT``), ``.app``, ``.docker(config_dir, *args)`` and ``.image(...)`` to
make a small unique image in the shared engine (removed again at teardown).
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from buildsvc.config import Settings
from tests.common.token_registry import wait_for_port

DOCKER = "docker"  # the CLI on PATH (28.x)
TIMEOUT = 120


def registry_config(settings: Settings, addr: str, storage: Path, cwd: Path) -> str:
    """The config exactly as the command prints it for these settings."""
    env = {
        "PATH": os.environ["PATH"],
        "BUILDSVC_DATA_DIR": str(settings.data_dir),
        "BUILDSVC_PUBLIC_URL": settings.public_url,
        "BUILDSVC_REGISTRY_SERVICE": settings.registry_service,
        "BUILDSVC_REGISTRY_TOKEN_ISSUER": settings.registry_token_issuer,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "buildsvc",
            "admin",
            "registry-config",
            "--addr",
            addr,
            "--storage",
            str(storage),
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return result.stdout


@dataclass
class RegistryStack:
    app: web.Application
    settings: Settings
    registry: str
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    images: list[str] = field(default_factory=list)

    def start_registry(self, config: str) -> None:
        path = self.workdir / "registry.yml"
        path.write_text(config)
        log = self.workdir / "registry.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(path)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(int(self.registry.rsplit(":", 1)[1]), self.process, log)

    def stop(self) -> None:
        if self.images:
            subprocess.run(
                [DOCKER, "rmi", "--force", *self.images],
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def config_dir(self, name: str) -> Path:
        """A docker login store of its own (~/.docker is shared with others)."""
        path = self.workdir / "docker" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def docker(
        self, config: Path, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args],
            input=stdin,
            env={**os.environ, "DOCKER_CONFIG": str(config)},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def login(self, config: Path, user: str, password: str) -> subprocess.CompletedProcess[str]:
        return self.docker(
            config, "login", self.registry, "-u", user, "--password-stdin", stdin=password
        )

    def image(self, reference: str) -> str:
        """Make ``registry/reference`` a new single-layer image in the engine; its name."""
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as archive:
            content = secrets.token_bytes(64)
            info = tarfile.TarInfo("marker")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        name = f"{self.registry}/{reference}"
        result = subprocess.run(
            [DOCKER, "import", "-", name],
            input=data.getvalue(),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        self.images.append(name)
        return name

    def image_id(self, name: str) -> str:
        result = self.docker(self.config_dir("inspect"), "image", "inspect", "-f", "{{.Id}}", name)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def forget(self, name: str) -> None:
        """Remove the engine's copy, so a pull really fetches it."""
        subprocess.run(
            [DOCKER, "rmi", "--force", name], capture_output=True, timeout=TIMEOUT, check=False
        )
