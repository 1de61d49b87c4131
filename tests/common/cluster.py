"""``scripts/cluster.sh`` in a directory and on ports of its own, for tests, the chaos suite
and ``bench/cluster.py``; it runs beside a developer's ``make cluster``.

``LocalCluster.create(settings)`` picks free ports and a fresh directory; ``start()`` is
``cluster.sh start`` (the extra ``settings`` through ``CLUSTER_SETTINGS``),
``start_parts(...)`` brings back what was stopped, ``signal(part, sig)`` sends a signal to
a part's process (by the pid cluster.sh recorded) and waits until it is gone,
``extra_worker(name, docker_url)`` runs one more worker on another engine,
``create_account(name)`` is ``buildsvc admin create-account`` with the cluster's
settings, ``stop()`` and ``remove()`` clean up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.common.engine_images import untag_under
from tests.common.servers import REPO_ROOT, end_process, free_port

CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "cluster.sh"
PORTS = ("PG", "REDIS", "LB", "LB_TLS", "API1", "API2", "FORGE", "REGISTRY")


@dataclass
class LocalCluster:
    directory: Path
    ports: dict[str, int]
    env: dict[str, str]

    @classmethod
    def create(cls, settings: dict[str, str]) -> Self:
        # Short (socket paths) and world-traversable: PostgreSQL runs as user postgres.
        directory = Path(tempfile.mkdtemp(prefix="bsc-"))
        directory.chmod(0o755)
        extra = directory / "extra.env"
        extra.write_text("".join(f"BUILDSVC_{k.upper()}={v}\n" for k, v in settings.items()))
        ports = {name: free_port() for name in PORTS}
        # The caller's settings stay out; its services' ports (a helper's own registry) stay in.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("BUILDSVC_") or k.startswith("BUILDSVC_SERVICES_")
        }
        env.update({f"CLUSTER_{name}_PORT": str(port) for name, port in ports.items()})
        env.update(CLUSTER_DIR=str(directory), PY=sys.executable, CLUSTER_SETTINGS=str(extra))
        return cls(directory, ports, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['LB']}"

    @property
    def registry(self) -> str:
        """The cluster's token-auth registry (realm: the load balancer)."""
        return f"127.0.0.1:{self.ports['REGISTRY']}"

    @property
    def forge_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['FORGE']}"

    def api_url(self, number: int) -> str:
        return f"http://127.0.0.1:{self.ports[f'API{number}']}"

    def script(self, *args: str) -> str:
        result = subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)}:\n{output}")
        return output

    def start(self) -> None:
        self.script("start")

    def start_parts(self, *parts: str) -> str:
        return self.script("start", *parts)

    def stop(self) -> None:
        """Every process; first the images its first worker left on the shared engine
        (while its registry still holds the port: no other run's images share the name;
        the second engine's go with the directory)."""
        untag_under(self.registry)
        subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "stop"], env=self.env, capture_output=True, check=False
        )

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def settings(self) -> dict[str, str]:
        """BUILDSVC_* of the env file every process of the cluster reads."""
        values = {}
        for line in (self.directory / "buildsvc.env").read_text().splitlines():
            if line.startswith("BUILDSVC_"):
                key, _, value = line.partition("=")
                values[key] = value.strip("'")
        return values

    def pid(self, part: str) -> int:
        if part == "postgresql":  # its own pidfile, first line
            pidfile = self.directory / "postgres" / "data" / "postmaster.pid"
            return int(pidfile.read_text().splitlines()[0])
        return int((self.directory / "run" / f"{part}.pid").read_text())

    def running(self, part: str) -> bool:
        try:
            return _alive(self.pid(part))
        except (OSError, ValueError):
            return False

    def signal(self, part: str, sig: signal.Signals, timeout: float = 60) -> None:
        """Send ``sig`` to the part's process and wait until it has exited."""
        pid = self.pid(part)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{part} (pid {pid}) did not exit on {sig.name}")
            time.sleep(0.05)

    def process_env(self, data: Path, **settings: str) -> dict[str, str]:
        """The environment of a buildsvc process of this cluster, as cluster.sh spawns one."""
        extra = {f"BUILDSVC_{key.upper()}": value for key, value in settings.items()}
        return {**self.env, **self.settings(), "BUILDSVC_DATA_DIR": str(data), **extra}

    @contextlib.contextmanager
    def extra_worker(self, name: str, docker_url: str) -> Iterator[subprocess.Popen[bytes]]:
        """One more worker on ``docker_url`` (a fresh data dir), ready when yielded;
        SIGTERMed at the end (a machine added to the cluster, and taken away). ``name``
        names its log, from which "ready" is read: a new name each time."""
        data = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.directory))
        log = self.directory / "log" / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "buildsvc", "worker"],
                cwd=data,
                env=self.process_env(data, docker_url=docker_url),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while " ready:" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not become ready: {self.log(name)[-2000:]}")
                time.sleep(0.05)
            yield process
        finally:
            end_process(process, signal.SIGTERM, 60)
            shutil.rmtree(data, ignore_errors=True)

    def create_account(self, name: str) -> str:
        """A new account's API token."""
        env = self.process_env(self.directory)
        result = subprocess.run(
            [sys.executable, "-m", "buildsvc", "admin", "create-account", name],
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"admin create-account {name}: {result.stderr}")
        return result.stdout.strip().splitlines()[-1]

    def log(self, part: str) -> str:
        path = self.directory / "log" / f"{part}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie child of cluster.sh's subshell counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
