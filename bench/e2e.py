"""Push-to-image time through buildsvc against the same steps by hand, and a push burst.

Run: ``python bench/e2e.py [--runs 7] [--large] [--check]`` (after ``make services``).
Starts its own stack on loopback (forgesim GitLab, ``buildsvc serve``, one ``buildsvc
worker``) in a temporary directory, then, each round in another order, N times each:

- buildsvc: ``git push`` of a new commit → webhook → build → push to the registry; timed
  from the start of ``git push`` to the build's ``end`` event on the live log (the image
  is in the registry then);
- BuildKit by hand (the main baseline): ``git push`` of a new commit, ``git clone
  --depth 1``, ``DOCKER_BUILDKIT=1 /usr/bin/docker build --network host`` with the OCI
  labels buildsvc's images carry (``--label``: metadata, as buildsvc's BuildKit builds
  record them), ``docker push``, timed over the four commands (pushed to a project
  buildsvc does not watch). ``/usr/bin/docker`` is Debian's 20.10 CLI, which has
  BuildKit built in and sends the context through a session; the ``docker`` earlier on
  PATH has no buildx plugin;
- legacy by hand (a second line): the same four commands with the legacy builder
  (``DOCKER_BUILDKIT=0``), without the labels, which would cost it a step.

The source is examples/hello; ``--large`` takes a large repository instead: 10,000
small files and one 30 MB file, built by ``COPY . /src``. Each commit changes a
``VERSION`` file (uniquely per invocation: the engine's layer cache outlives a run), so
every side rebuilds the same layers and uploads new ones. Reports the medians and the
ratios (goal: buildsvc at most 1.05x BuildKit by hand; 1.00x with ``--large``). Then,
without ``--large``, 20 pushes to one branch, as fast as git allows: at most 2 builds
may run, and the image must end on the last commit (its manifest digest read back from
the registry). ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stack helper lives in tests/common/

from tests.common.e2e_stack import FINISHED, Project, Stack, git  # noqa: E402
from tests.common.registry_http import registry_image  # noqa: E402

GOAL_RATIO = 1.05
GOAL_RATIO_LARGE = 1.00
BURST = 20
EXAMPLE = ROOT / "examples" / "hello"
LARGE_FILES = 10_000
LARGE_FILE_BYTES = 30 * 1024 * 1024
SIDES = ("service", "buildkit", "legacy")
SIDES_SHOWN = {
    "buildkit": "BuildKit by hand (git push, clone --depth 1, docker build, docker push)",
    "legacy": "legacy builder by hand (the same commands, DOCKER_BUILDKIT=0, no labels)",
    "service": "through buildsvc (git push -> webhook -> worker -> registry)",
}
DEBIAN_DOCKER = "/usr/bin/docker"  # 20.10: BuildKit built into the CLI
REDIS_DB = 14  # nobody else's: tests and other benches use 2-13


def write_large(work: Path) -> None:
    """10,000 small files in 100 directories, one 30 MB file, ``COPY . /src``."""
    rng = random.Random(15)  # the same bytes every run: nothing to compress away
    for n in range(LARGE_FILES):
        path = work / "files" / f"d{n // 100:02d}" / f"f{n:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {n} {rng.getrandbits(64):016x}\n")
    (work / "big.bin").write_bytes(rng.randbytes(LARGE_FILE_BYTES))
    (work / "Dockerfile").write_text("FROM buildsvc/busybox:latest\nCOPY . /src\n")


def commit_version(project: Project, label: str, branch: str = "main", large: bool = False) -> str:
    """Commit the source with a new VERSION on ``branch`` (not pushed)."""
    if not large:
        subprocess.run(["cp", "-r", f"{EXAMPLE}/.", str(project.work)], check=True)
        version = project.work / "app" / "VERSION"
    else:
        if not (project.work / "big.bin").exists():
            write_large(project.work)
        version = project.work / "VERSION"
    # Unique per invocation too: the engine's layer cache outlives a run.
    version.write_text(f"{label} {secrets.token_hex(4)}\n")
    git(project.work, "checkout", "-q", "-B", branch)
    git(project.work, "add", "-A")
    git(project.work, "commit", "-q", "-m", f"version {label}")
    return git(project.work, "rev-parse", "HEAD")


def delivered_build(stack: Stack, seen: int, timeout: float = 30) -> int:
    """The build id the next webhook delivery answered with.

    Read from forgesim's delivery records, so waiting for it puts no load on the API.
    """
    deadline = time.monotonic() + timeout
    while True:
        deliveries = stack.forge.admin.deliveries()
        if len(deliveries) > seen and deliveries[-1].get("response_body"):
            answer = json.loads(deliveries[-1]["response_body"])
            if answer.get("build_ids"):
                return int(answer["build_ids"][-1])
            raise SystemExit(f"the push built nothing: {answer}")
        if time.monotonic() > deadline:
            raise SystemExit("no webhook delivery after the push")
        time.sleep(0.005)


PHASES = (  # where a build through buildsvc spends its time, in order
    ("push to queued", "queued_at"),  # git push, the webhook, verify, record, enqueue
    ("queued to fetching", "fetching_at"),  # the worker's pickup and claim
    ("fetching", "building_at"),  # git fetch and checkout
    ("building", "pushing_at"),  # the context to the engine and the build
    ("pushing", "finished_at"),  # docker push, the digest, the ending recorded
)


def through_buildsvc(
    stack: Stack, project: Project, label: str, large: bool
) -> tuple[float, dict[str, float]]:
    """Seconds from ``git push`` to the log's end event, and that time by phase."""
    commit_version(project, label, large=large)
    seen = len(stack.forge.admin.deliveries())
    wall = time.time()
    started = time.perf_counter()
    stack.git_push(project)
    build_id = delivered_build(stack, seen)
    end = next(data for event, data in stack.follow(build_id) if event == "end")
    elapsed = time.perf_counter() - started
    if end["status"] != "succeeded":
        raise SystemExit(f"build {build_id} ended {end}")
    return elapsed, phases(stack.build(build_id), wall, elapsed)


def phases(build: dict[str, object], wall: float, elapsed: float) -> dict[str, float]:
    """The build's phase times (its own timestamps, this machine's clock) and the rest:
    from the ending recorded to the end event read here."""
    found: dict[str, float] = {}
    previous = wall
    for name, column in PHASES:
        moment = dt.datetime.fromisoformat(str(build[column])).timestamp()
        found[name] = moment - previous
        previous = moment
    found["ending to end event"] = wall + elapsed - previous
    return found


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed: {result.stdout}{result.stderr}")


def by_hand(
    stack: Stack,
    project: Project,
    label: str,
    scratch: Path,
    docker_env: dict[str, str],
    *,
    builder: str,
    large: bool,
) -> float:
    """The four commands, with BuildKit (and buildsvc's labels) or the legacy builder."""
    sha = commit_version(project, label, large=large)
    image = f"{stack.services.registry}/e2e/manual:latest"  # the login holds e2e
    clone = scratch / f"clone-{label}"
    git_env = {**os.environ, **stack.git_auth_env()}
    started = time.perf_counter()
    stack.git_push(project)
    run(["git", "clone", "-q", "--depth", "1", project.clone_url, str(clone)], git_env)
    if builder == "buildkit":
        env = {**docker_env, "DOCKER_BUILDKIT": "1"}
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        labels = {
            "org.opencontainers.image.source": project.clone_url[:-4],
            "org.opencontainers.image.revision": sha,
            "org.opencontainers.image.created": created,
        }
        flags = [f"--label={key}={value}" for key, value in labels.items()]
        build = [DEBIAN_DOCKER, "build", "-q", "--network", "host", *flags, "-t", image]
    else:
        env = {**docker_env, "DOCKER_BUILDKIT": "0"}
        build = [DEBIAN_DOCKER, "build", "-q", "-t", image]
    run([*build, str(clone)], env)
    run([DEBIAN_DOCKER, "push", "-q", image], env)
    elapsed = time.perf_counter() - started
    subprocess.run(["rm", "-rf", str(clone)], check=True)  # a large clone is 30 MB
    return elapsed


def burst(stack: Stack, project: Project, repository_id: int) -> dict[str, object]:
    """20 pushes of one commit each to branch ``burst``; what ran and what the image is."""
    shas = [commit_version(project, f"burst {n}", "burst") for n in range(BURST)]
    env = {**os.environ, **stack.git_auth_env()}
    started = time.perf_counter()
    for sha in shas:
        run(
            [
                "git",
                "-C",
                str(project.work),
                "push",
                "-q",
                "-f",
                "origin",
                f"{sha}:refs/heads/burst",
            ],
            env,
        )
    pushing = time.perf_counter() - started
    deadline = time.monotonic() + 120
    while True:
        builds = sorted(stack.builds(repository_id), key=lambda b: int(b["id"]))
        last = builds[-1] if builds else {}
        if last.get("commit_sha") == shas[-1] and all(b["status"] in FINISHED for b in builds):
            break
        if time.monotonic() > deadline:
            raise SystemExit(
                f"burst builds did not end: {[(b['id'], b['status']) for b in builds]}"
            )
        time.sleep(0.1)
    ran = [b for b in builds if b["fetching_at"] is not None]
    pushed = registry_image(stack.services, f"{stack.services.registry}/e2e/burst:latest")
    return {
        "pushes": BURST,
        "push_seconds": pushing,
        "builds": len(builds),
        "ran": len(ran),
        "superseded": sum(b["status"] == "superseded" for b in builds),
        "last_status": last["status"],
        "image_on_last_commit": last["status"] == "succeeded" and pushed.digest == last["digest"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--large", action="store_true", help="10,000 files and one of 30 MB")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a BUILDSVC_ setting"
    )
    args = parser.parse_args()
    large: bool = args.large
    coalesced: dict[str, object] | None = None
    with tempfile.TemporaryDirectory(prefix="buildsvc-bench-") as tmp:
        scratch = args.keep or Path(tmp)
        overrides = dict(item.split("=", 1) for item in args.set)
        stack = Stack(scratch / "stack", REDIS_DB, settings=overrides)
        try:
            stack.start()
            stack.start_worker()
            name = "large" if large else "hello"
            project = stack.new_project(name)
            # By-hand pushes go to a project buildsvc does not watch: no build competes.
            unwatched = stack.new_project(f"{name}-by-hand")
            rule = [{"type": "branch", "pattern": "main", "tag": "latest"}]
            stack.link(project, name, rule)
            docker_env = {**os.environ, "DOCKER_CONFIG": str(scratch / "docker")}
            login = subprocess.run(
                [
                    DEBIAN_DOCKER,
                    "login",
                    "-u",
                    stack.services.registry_username,
                    "--password-stdin",
                    stack.services.registry,
                ],
                input=stack.services.registry_password,
                env=docker_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if login.returncode != 0:
                raise SystemExit(f"docker login failed: {login.stderr}")
            # One unmeasured round each: caches, connections, imports.
            through_buildsvc(stack, project, "warm-up-service", large)
            for builder in SIDES[1:]:
                by_hand(
                    stack,
                    unwatched,
                    f"warm-up-{builder}",
                    scratch,
                    docker_env,
                    builder=builder,
                    large=large,
                )
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            by_phase: dict[str, list[float]] = {}
            for n in range(args.runs):  # each round in another order
                for side in SIDES[n % 3 :] + SIDES[: n % 3]:
                    if side == "service":
                        elapsed, spent = through_buildsvc(stack, project, f"s{n}", large)
                        for phase, seconds in spent.items():
                            by_phase.setdefault(phase, []).append(seconds)
                    else:
                        elapsed = by_hand(
                            stack,
                            unwatched,
                            f"{side}{n}",
                            scratch,
                            docker_env,
                            builder=side,
                            large=large,
                        )
                    times[side].append(elapsed)
            if not large:
                burst_project = stack.new_project("burst")
                burst_rule = [{"type": "branch", "pattern": "burst", "tag": "latest"}]
                burst_id = stack.link(burst_project, "burst", burst_rule)["id"]
                coalesced = burst(stack, burst_project, burst_id)
        finally:
            stack.close()
    median = {side: statistics.median(found) for side, found in times.items()}
    ratio = median["service"] / median["buildkit"]
    legacy = median["service"] / median["legacy"]
    goal = GOAL_RATIO_LARGE if large else GOAL_RATIO
    source = (
        f"{LARGE_FILES:,} small files and one of {LARGE_FILE_BYTES >> 20} MB"
        if large
        else "examples/hello"
    )
    print(f"push to image of {source}, median of {args.runs} runs each (seconds; every run):")
    for side, label in SIDES_SHOWN.items():
        print(f"  {label}: {median[side]:.2f}  {[round(t, 2) for t in times[side]]}")
    shown = ", ".join(f"{name} {statistics.median(found):.3f}" for name, found in by_phase.items())
    print(f"  buildsvc by phase (medians): {shown}")
    print(f"  ratio buildsvc / BuildKit by hand: {ratio:.2f}x (goal <= {goal:.2f}x)")
    print(f"  ratio buildsvc / legacy builder by hand: {legacy:.2f}x")
    missed = ratio > goal
    if coalesced is not None:
        c = coalesced
        print(
            f"burst: {c['pushes']} pushes to one branch in {c['push_seconds']:.2f} s -> "
            f"{c['builds']} builds queued, {c['ran']} ran, {c['superseded']} superseded; last "
            f"build {c['last_status']}, image on the last commit: {c['image_on_last_commit']}"
        )
        missed = missed or int(str(c["ran"])) > 2 or not c["image_on_last_commit"]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
