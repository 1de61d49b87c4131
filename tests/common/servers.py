"""Real backing servers for tests: a throwaway PostgreSQL 15, the stack's Redis, and
throwaway Redis servers to stop and start."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import redis
import redis.asyncio
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
# BUILDSVC_TEST_REDIS_URL lets parallel checkouts each test against a Redis of their own.
REDIS_URL = os.environ.get("BUILDSVC_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# The stack uses db 0; tests that need their own namespace use this one (flushed per test).
TEST_REDIS_DB = 13
POSTGRES_BIN_FALLBACK = Path("/usr/lib/postgresql/15/bin")


def end_process(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send ``sig`` and wait for the process; SIGKILL it if it is not gone in ``timeout``."""
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def ensure_redis() -> str:
    """The Redis base URL, after starting the stack's services if Redis does not answer."""
    if not redis_answers(REDIS_URL):
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "services.sh"), "start"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if not redis_answers(REDIS_URL):
            raise RuntimeError(
                "Redis is not answering on 127.0.0.1:6379 and `scripts/services.sh start` "
                f"did not start it (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
    return REDIS_URL


async def flush_redis_db(url: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


class RedisServer:
    """A redis-server of its own on a free port, to stop and start again.

    Like the stack's Redis it keeps nothing on disk, so a restart empties it: jobs
    queued before are gone. With ``persist`` it writes every change to an append-only
    file and a restart finds its data again.
    """

    def __init__(self, *, persist: bool = False) -> None:
        self.persist = persist
        self.root = Path(tempfile.mkdtemp(prefix="buildsvc-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir"]
        argv += [str(self.root), "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        with (self.root / "redis.log").open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def answers(self) -> bool:
        return redis_answers(self.url)


def _postgres_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidate = POSTGRES_BIN_FALLBACK / name
    if candidate.exists():
        return str(candidate)
    raise RuntimeError(f"{name} not found on PATH or in {POSTGRES_BIN_FALLBACK}")


class PostgresServer:
    """initdb + pg_ctl in a private directory; as user ``postgres`` when we are root
    (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="buildsvc-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = [shlex.quote(part) for part in argv]
        if self._as_postgres:
            full = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]
        else:
            full = list(argv)
        result = subprocess.run(full, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            _postgres_binary("initdb"),
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            *("--locale=C", "--no-sync"),
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._run(
            _postgres_binary("pg_ctl"),
            *("-D", str(self.data), "-o", options, "-l", str(self.root / "server.log")),
            *("-w", "-t", "60", "start"),
        )

    def stop(self) -> None:
        try:
            self._run(_postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres_database(server_url: str) -> str:
    """A new empty database on the server; returns its SQLAlchemy URL."""
    name = f"test_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
