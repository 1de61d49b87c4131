"""forgesim answers with the structure of the published forge examples.

For every REST answer and webhook delivery that has a published example in
``../shared/forge-examples/<forge>/`` (or under ``$BUILDSVC_SHARED_DIR``), forgesim's JSON
must have the same structure: the same set of key paths with the same JSON types.

Rules of the comparison (``compare``):
- a path is ``a.b.c``; list items add ``[]`` (``commits[].author.name``), the structure of
  a list being the union of its items' structures; an empty list on either side
  compares as a list only (nothing to say about its items);
- where the example has ``null`` our value may be of any type (and what lies below it is
  not compared): examples are single captures where many fields happen to be unset;
- ``allow_extra`` names paths (prefixes) an answer may have beyond the example, for
  fields a later forge version added (GitLab's ``alert_status`` on hooks, for example).

Providers register by module: every ``tests/conformance/forgesim_examples_<name>.py``
exposing ``check_provider(shared: Path, work: Path) -> list[str]`` is run by ``check()``;
it can use ``compare``, ``example``, ``git`` and ``receiving`` from here. This module holds GitLab's
(``check_gitlab``). Run alone: ``python -m tests.conformance.forgesim_examples``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tests.conformance as package

Checker = Callable[[Path, Path], list[str]]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Conformance",
    "GIT_AUTHOR_EMAIL": "conformance@example.com",
    "GIT_COMMITTER_NAME": "Conformance",
    "GIT_COMMITTER_EMAIL": "conformance@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
}


def shared_dir() -> Path:
    configured = os.environ.get("BUILDSVC_SHARED_DIR")
    repo_root = Path(__file__).resolve().parents[2]
    return Path(configured) if configured else repo_root.parent / "shared"


def example(shared: Path, relative: str) -> Any:
    return json.loads((shared / "forge-examples" / relative).read_text())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "str", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def structure(value: Any, path: str = "$") -> dict[str, set[str]]:
    """key path -> the JSON types seen there."""
    out: dict[str, set[str]] = {path: {_kind(value)}}
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        children = [(f"{path}.{key}", item) for key, item in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[]", item) for item in value]
    for child_path, item in children:
        for key, kinds in structure(item, child_path).items():
            out.setdefault(key, set()).update(kinds)
    return out


def _under(path: str, prefixes: set[str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[]")) for p in prefixes)


def compare(
    name: str, expected: Any, actual: Any, allow_extra: frozenset[str] = frozenset()
) -> list[str]:
    """Failures (empty when ``actual`` has ``expected``'s structure)."""
    want, got = structure(expected), structure(actual)
    nullable = {p for p, kinds in want.items() if "null" in kinds}
    emptied = {p[:-2] for p in set(want) ^ set(got) if p.endswith("[]")}
    extras = {f"$.{p}" for p in allow_extra}
    failures = []
    for path in sorted(set(want) | set(got)):
        skip = _under(path, nullable - {path}) or _under(path, {p + "[]" for p in emptied})
        if skip or _under(path, extras):
            continue
        if path not in got:
            failures.append(f"{name}: missing {path} ({'/'.join(sorted(want[path]))})")
        elif path not in want:
            failures.append(f"{name}: unexpected {path} ({'/'.join(sorted(got[path]))})")
        elif path not in nullable and not got[path] <= want[path]:
            failures.append(f"{name}: {path} is {got[path]}, example has {want[path]}")
    return failures


def git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


POLL = 0.02  # serve_forever's poll interval, i.e. how long shutdown() waits


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def receiving() -> Iterator[str]:
    """A webhook receiver answering 204 to every POST; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, args=(POLL,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def check() -> list[str]:
    shared = shared_dir()
    if not (shared / "forge-examples").is_dir():
        return [f"no forge examples under {shared} (set BUILDSVC_SHARED_DIR)"]
    checkers: dict[str, Checker] = {"gitlab": _gitlab_checker()}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("forgesim_examples_"):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            checkers[info.name.removeprefix("forgesim_examples_")] = module.check_provider
    failures = []
    for provider, checker in checkers.items():
        with tempfile.TemporaryDirectory(prefix=f"forgesim-{provider}-") as work:
            failures += [f"[{provider}] {f}" for f in checker(shared, Path(work))]
    return failures


# GitLab -----------------------------------------------------------------------------------
# Fields GitLab added to hooks after the example was captured; forgesim serves them.
GITLAB_HOOK_EXTRAS = frozenset(
    {
        "alert_status",
        "disabled_until",
        "push_events_branch_filter",
        "confidential_issues_events",
        "confidential_note_events",
        "deployment_events",
        "releases_events",
        "repository_update_events",
    }
)
GITLAB_DELIVERIES = {  # (event, ref, created, deleted) -> example
    (
        "Push Hook",
        "refs/heads/main",
        True,
        False,
    ): "gitlab/webhooks/push.branch-created.go-scm.json",
    ("Push Hook", "refs/heads/main", False, False): "gitlab/webhooks/push.branch.go-scm.json",
    ("Push Hook", "refs/heads/feature", True, False): (
        "gitlab/webhooks/push.branch-created.go-scm.json"
    ),
    (
        "Push Hook",
        "refs/heads/feature",
        False,
        True,
    ): "gitlab/webhooks/push.branch-deleted.go-scm.json",
    ("Tag Push Hook", "refs/tags/v1", True, False): "gitlab/webhooks/tag_push.created.go-scm.json",
    ("Tag Push Hook", "refs/tags/v1", False, True): "gitlab/webhooks/tag_push.deleted.go-scm.json",
}


def _gitlab_push(forge: Any, token: str, work: Path) -> None:
    """main created, then moved; feature created and deleted; tag v1 created and deleted."""
    clone = work / "clone"
    git("clone", "-q", forge.git_url_with_token("acme/app", token), str(clone))
    (clone / "README.md").write_text("hello\n")
    git("add", "-A", cwd=clone)
    git("commit", "-qm", "first", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", cwd=clone)
    (clone / "app.py").write_text("print(1)\n")
    git("add", "-A", cwd=clone)
    git("commit", "-qm", "second", cwd=clone)
    git("tag", "-a", "v1", "-m", "v1", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", "v1", cwd=clone)
    git("push", "-q", "origin", ":feature", ":refs/tags/v1", cwd=clone)


def check_gitlab(shared: Path, work: Path) -> list[str]:
    import gitlab

    import forgesim

    failures: list[str] = []
    with receiving() as receiver, forgesim.running("gitlab", work / "forge") as forge:
        forge.admin.create_user("alice")
        token = forge.admin.create_token("alice", ["api"])
        forge.admin.create_namespace("acme", members={"alice": "maintainer"})
        forge.admin.create_repository("acme", "app")
        gl = gitlab.Gitlab(forge.url, private_token=token)
        hook = gl.http_post(
            "/projects/acme%2Fapp/hooks",
            post_data={"url": receiver, "token": "t", "tag_push_events": True},
        )
        _gitlab_push(forge, token, work)
        answers = {
            "gitlab/api/user.go-scm.json": gl.http_get("/user"),
            "gitlab/api/users.get.go-gitlab.json": gl.http_get("/users/1"),
            "gitlab/api/project.get.go-scm.json": gl.http_get("/projects/acme%2Fapp"),
            "gitlab/api/projects.list.go-scm.json": gl.http_get("/projects"),
            "gitlab/api/branches.list.go-gitlab.json": gl.http_get(
                "/projects/acme%2Fapp/repository/branches"
            ),
            "gitlab/api/branch.get.go-gitlab.json": gl.http_get(
                "/projects/acme%2Fapp/repository/branches/main"
            ),
            "gitlab/api/personal_access_token.single.go-gitlab.json": gl.http_get(
                "/personal_access_tokens/self"
            ),
        }
        deliveries = forge.admin.wait_for_deliveries(len(GITLAB_DELIVERIES))
    for relative, answer in answers.items():
        failures += compare(relative, example(shared, relative), answer)
    failures += compare(
        "gitlab/api/project_hook.go-scm.json",
        example(shared, "gitlab/api/project_hook.go-scm.json"),
        hook,
        GITLAB_HOOK_EXTRAS,
    )
    seen = set()
    for record in deliveries:
        body = json.loads(record["body"])
        zero = "0" * 40
        key = (record["event"], body["ref"], body["before"] == zero, body["after"] == zero)
        if key not in GITLAB_DELIVERIES:
            failures.append(f"unexpected delivery {key}")
            continue
        seen.add(key)
        relative = GITLAB_DELIVERIES[key]
        failures += compare(relative, example(shared, relative), body)
    failures += [f"no delivery for {key}" for key in GITLAB_DELIVERIES if key not in seen]
    return failures


def _gitlab_checker() -> Checker:
    return check_gitlab


if __name__ == "__main__":
    problems = check()
    print("\n".join(problems) or "forgesim answers match the published examples")
    sys.exit(1 if problems else 0)
