"""Registry auth: the same registry with buildsvc's token auth vs htpasswd, in one run.

    python bench/registry_auth.py [--rounds 5] [--rate 200] [--seconds 10]

Starts `buildsvc serve` (SQLite under a temporary directory, Redis from
BUILDSVC_BENCH_REDIS_URL, default db 12 of 127.0.0.1:6379), an account with a registry
password and a namespace, and two `docker-registry` processes on loopback with the same
storage driver: one with the config `buildsvc admin registry-config` prints (token
auth), one with htpasswd (bcrypt, as `htpasswd -B` writes it). A 5-layer image (one
imported layer, four COPY layers of 2 MiB random bytes) is pushed to both.

1. `docker pull` of that image through each registry, the engine's copy removed before
   every pull, the sides taking turns; median of ``--rounds``. Goal: token <= 1.10x htpasswd.
2. `GET /v2/token` with the account's Basic credentials and a push scope, paced at
   ``--rate`` requests per second for ``--seconds``: p50 and p99 (password hashing
   included: the first request verifies argon2, later ones hit the verified-credential
   cache). Goal: p99 < 20 ms at 200 req/s.

Every docker call uses a DOCKER_CONFIG of its own (~/.docker stays untouched). Exits 1
if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

HOST = "127.0.0.1"
REDIS_URL = os.environ.get("BUILDSVC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "bench registry password"
LAYER_BYTES = 2 * 1024 * 1024
WARM_UP_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {HOST}:{port}")


def run(argv: list[str], *, env: dict[str, str] | None = None, data: bytes | None = None) -> str:
    result = subprocess.run(argv, env=env, input=data, capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} {argv[1]} failed: {result.stderr.decode()[-2000:]}")
    return result.stdout.decode()


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []
        self.api_port = free_port()
        self.api = f"http://{HOST}:{self.api_port}"
        self.env = {
            **os.environ,
            "BUILDSVC_DATA_DIR": str(work / "var"),
            "BUILDSVC_PORT": str(self.api_port),
            "BUILDSVC_PUBLIC_URL": self.api,
            "BUILDSVC_REDIS_URL": REDIS_URL,
            "BUILDSVC_LOG_LEVEL": "WARNING",
        }
        self.token_registry = f"{HOST}:{free_port()}"
        self.basic_registry = f"{HOST}:{free_port()}"
        self.images: list[str] = []

    def start(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> None:
        with (self.work / log).open("wb") as out:
            self.processes.append(
                subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.work)
            )

    def close(self) -> None:
        if self.images:
            subprocess.run(["docker", "rmi", "-f", *self.images], capture_output=True, check=False)
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)

    def docker(self, who: str, *args: str, data: bytes | None = None) -> str:
        config = self.work / "docker" / who
        config.mkdir(parents=True, exist_ok=True)
        return run(["docker", *args], env={**os.environ, "DOCKER_CONFIG": str(config)}, data=data)

    def api_call(self, method: str, path: str, token: str, body: object) -> None:
        request = urllib.request.Request(  # noqa: S310 -- our own loopback API
            self.api + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 -- as above
            assert answer.status in (200, 201, 204), answer.status

    def set_up(self) -> None:
        buildsvc = [sys.executable, "-m", "buildsvc"]
        created = run([*buildsvc, "admin", "create-account", "bench"], env=self.env)
        token = created.strip().splitlines()[-1]
        config = run(
            [
                *buildsvc,
                "admin",
                "registry-config",
                "--addr",
                self.token_registry,
                "--storage",
                str(self.work / "token-storage"),
            ],
            env=self.env,
        )
        (self.work / "token.yml").write_text(config)
        self.start([*buildsvc, "serve"], "api.log", self.env)
        wait_port(self.api_port)
        self.api_call("PUT", "/api/v1/registry/password", token, {"password": PASSWORD})
        self.api_call("POST", "/api/v1/namespaces", token, {"name": "bench"})

        htpasswd = run(["htpasswd", "-niB", "bench"], data=PASSWORD.encode())
        (self.work / "htpasswd").write_text(htpasswd)
        storage = self.work / "basic-storage"
        (self.work / "basic.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
            f"http:\n  addr: {self.basic_registry}\n"
            f"auth:\n  htpasswd:\n    realm: bench\n    path: {self.work / 'htpasswd'}\n"
        )
        for name, registry in (("token", self.token_registry), ("basic", self.basic_registry)):
            self.start(["docker-registry", "serve", str(self.work / f"{name}.yml")], f"{name}.log")
            wait_port(int(registry.rsplit(":", 1)[1]))
            self.docker(
                name, "login", registry, "-u", "bench", "--password-stdin", data=PASSWORD.encode()
            )

    def make_image(self) -> str:
        """A 5-layer image; its local name."""
        base = f"bench-registry-auth-base:{secrets.token_hex(4)}"
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            content = secrets.token_bytes(LAYER_BYTES)
            info = tarfile.TarInfo("base.bin")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        self.docker("build", "import", "-", base, data=archive.getvalue())
        self.images.append(base)
        context = self.work / "context"
        context.mkdir()
        lines = [f"FROM {base}"]
        for index in range(4):
            (context / f"layer{index}.bin").write_bytes(secrets.token_bytes(LAYER_BYTES))
            lines.append(f"COPY layer{index}.bin /layer{index}.bin")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        name = f"bench-registry-auth:{secrets.token_hex(4)}"
        env = {**os.environ, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": str(self.work / "docker")}
        run(["docker", "build", "-q", "-t", name, str(context)], env=env)
        self.images.append(name)
        return name

    def push_both(self, image: str) -> dict[str, str]:
        refs = {}
        for who, registry in (("token", self.token_registry), ("basic", self.basic_registry)):
            ref = f"{registry}/bench/app:five"
            self.docker(who, "tag", image, ref)
            self.docker(who, "push", "-q", ref)
            self.images.append(ref)
            refs[who] = ref
        return refs

    def pull_seconds(self, who: str, refs: dict[str, str], image: str) -> float:
        # Nothing of the image may stay in the engine, so every layer is downloaded.
        subprocess.run(
            ["docker", "rmi", "-f", *refs.values(), image], capture_output=True, check=False
        )
        started = time.perf_counter()
        self.docker(who, "pull", "-q", refs[who])
        return time.perf_counter() - started


# The baseline of the paced load: a bare aiohttp handler answering a fixed token-sized
# body, in its own process, so what the machine itself adds to p99 shows.
BARE_SERVER = """
import sys
from aiohttp import web
body = b'{"token": "' + b"x" * 600 + b'", "expires_in": 300}'
async def token(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/v2/token", token)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def paced_tokens(api: str, rate: float, seconds: float) -> list[float]:
    header = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
    params = [("service", "buildsvc-registry"), ("scope", "repository:bench/app:pull,push")]
    latencies: list[float] = []
    async with aiohttp.ClientSession(headers={"Authorization": header}) as http:

        async def one() -> None:
            started = time.perf_counter()
            async with http.get(f"{api}/v2/token", params=params) as answer:
                await answer.read()
                assert answer.status == 200, answer.status
            latencies.append(time.perf_counter() - started)

        await one()  # the first verifies argon2; it counts too
        tasks = []
        start = time.perf_counter()
        for index in range(int(rate * seconds)):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-registry-auth-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.set_up()
            image = bench.make_image()
            refs = bench.push_both(image)
            times: dict[str, list[float]] = {"token": [], "basic": []}
            for round_ in range(args.rounds):
                order = ("token", "basic") if round_ % 2 == 0 else ("basic", "token")
                for who in order:
                    times[who].append(bench.pull_seconds(who, refs, image))
            bare_port = free_port()
            bench.start([sys.executable, "-c", BARE_SERVER, str(bare_port)], "bare.log")
            wait_port(bare_port)
            bare_url = f"http://{HOST}:{bare_port}"
            for url in (bare_url, bench.api):  # warm-up, not counted: connections, caches
                asyncio.run(paced_tokens(url, args.rate, WARM_UP_SECONDS))
            bare = asyncio.run(paced_tokens(bare_url, args.rate, args.seconds))
            latencies = asyncio.run(paced_tokens(bench.api, args.rate, args.seconds))
            slowest = sorted(range(len(latencies)), key=latencies.__getitem__)[-10:]
        finally:
            bench.close()
    token, basic = statistics.median(times["token"]), statistics.median(times["basic"])
    ratio = token / basic
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    print(f"docker pull, 5 layers ({args.rounds} rounds, median):")
    print(f"  htpasswd:   {basic:.3f} s   {', '.join(f'{t:.3f}' for t in times['basic'])}")
    print(f"  token auth: {token:.3f} s   {', '.join(f'{t:.3f}' for t in times['token'])}")
    print(f"  ratio token/htpasswd: {ratio:.3f}x (goal <= 1.10x)")
    print(f"GET /v2/token at {args.rate:g}/s for {args.seconds:g} s ({len(latencies)} requests):")
    print(
        f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms "
        f"(goal p99 < 20 ms)"
    )
    ok = ratio <= 1.10 and p99 < 20.0
    print(
        f"  baseline, a bare aiohttp handler paced the same: p50 "
        f"{percentile(bare, 0.5) * 1000:.1f} ms, p99 {percentile(bare, 0.99) * 1000:.1f} ms "
        f"(p99 ratio {p99 / (percentile(bare, 0.99) * 1000):.2f}x)"
    )
    print(f"  the 10 slowest were requests {sorted(slowest)} of {len(latencies)}")
    print(f"  load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("goals met" if ok else "goal missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
