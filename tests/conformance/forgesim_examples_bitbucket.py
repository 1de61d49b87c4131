"""forgesim's Bitbucket Cloud answers and deliveries against the published examples.

The captures are from 2015-2018; ``allow_extra`` lists what Bitbucket Cloud added since
(workspaces, projects on every repository, ``secret_set`` on hooks, ``nickname`` and
``account_id`` on users...). The repo:push sample built from Atlassian's docs
(``repo_push.go-playground.json``) puts a bare user where captures have ``author.user``,
so only the captures are compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conformance.forgesim_examples import compare, example, git, receiving

USER_EXTRAS = frozenset({"nickname", "account_id", "account_status", "has_2fa_enabled"})
REPO_EXTRAS = frozenset(
    {
        "workspace",
        "parent",
        "owner.nickname",
        "owner.account_id",
        "links.clone",
        "mainbranch",
        "project",
    }
)
ACTOR = frozenset({"nickname"})
PAGE_EXTRAS = frozenset({"size", "page"})
HOOK_EXTRAS = frozenset({"subject_type", "secret_set"})
BRANCH_EXTRAS = frozenset(
    {"merge_strategies", "default_merge_strategy", "target.author.user.nickname"}
)
# (ref kind, created, closed) -> example
DELIVERIES = {
    ("branch", True, False): "bitbucket-cloud/webhooks/repo_push.branch-created.go-scm.json",
    ("branch", False, False): "bitbucket-cloud/webhooks/repo_push.branch.go-scm.json",
    ("branch", False, True): "bitbucket-cloud/webhooks/repo_push.branch-deleted.go-scm.json",
    ("tag", True, False): "bitbucket-cloud/webhooks/repo_push.tag-created.go-scm.json",
    ("tag", False, True): "bitbucket-cloud/webhooks/repo_push.tag-deleted.go-scm.json",
}


def _users(prefix: str) -> frozenset[str]:
    """``nickname`` wherever a user object appears in a change."""
    sides = ("old.target", "new.target", "commits[]")
    return frozenset(f"{prefix}.{side}.author.user.nickname" for side in sides)


def delivery_extras() -> frozenset[str]:
    changes = "push.changes[]"
    return (
        frozenset(f"repository.{p}" for p in ("workspace", "project", "parent", "owner.nickname"))
        | frozenset({"actor.nickname", "repository.owner.account_id"})
        | frozenset(f"{changes}.{side}.{p}" for side in ("old", "new") for p in BRANCH_EXTRAS)
        | _users(changes)
    )


def _push(url: str, work: Path) -> None:
    """One ref per push: main created then moved, feature created and deleted, v1 too."""
    clone = work / "clone"
    git("clone", "-q", url, str(clone))
    for name, text in (("README.md", "hello\n"), ("app.py", "print(1)\n")):
        (clone / name).write_text(text)
        git("add", "-A", cwd=clone)
        git("commit", "-qm", f"add {name}", cwd=clone)
        git("push", "-q", "origin", "HEAD:main", cwd=clone)
    git("tag", "-a", "v1", "-m", "v1", cwd=clone)
    for refspec in ("HEAD:feature", ":feature", "HEAD:release", "v1", ":refs/tags/v1"):
        git("push", "-q", "origin", refspec, cwd=clone)


def _key(body: dict[str, Any]) -> tuple[str, bool, bool]:
    change = body["push"]["changes"][0]
    side = change["new"] or change["old"]
    return (side["type"], change["created"], change["closed"])


def check_provider(shared: Path, work: Path) -> list[str]:
    import requests

    import forgesim

    failures: list[str] = []
    with receiving() as receiver, forgesim.running("bitbucket", work / "forge") as forge:
        forge.admin.create_user("alice", email="conformance@example.com")
        token = forge.admin.create_token("alice", ["account", "repository:write", "webhook"])
        forge.admin.create_namespace("acme", members={"alice": "admin"})
        forge.admin.request(
            "POST", "/repositories", {"namespace": "acme", "name": "app", "description": "An app"}
        )
        for index in range(3):
            forge.admin.create_repository("acme", f"lib{index}")
        session = requests.Session()
        session.auth = ("alice", token)

        def api(method: str, path: str, body: Any = None) -> Any:
            resp = session.request(method, forge.api_url + path, json=body, timeout=10)
            resp.raise_for_status()
            return resp.json()

        repo = "/repositories/acme/app"
        hook = api(
            "POST",
            repo + "/hooks",
            {"url": receiver, "description": "ci", "events": ["repo:push"], "secret": "s"},
        )
        _push(forge.git_url_with_token("acme/app", token, "x-token-auth"), work)
        answers = {
            "bitbucket-cloud/api/user.go-scm.json": (api("GET", "/user"), USER_EXTRAS),
            "bitbucket-cloud/api/repository.get.go-scm.json": (api("GET", repo), REPO_EXTRAS),
            "bitbucket-cloud/api/repositories.page.go-scm.json": (
                api("GET", "/repositories/acme?pagelen=1"),
                PAGE_EXTRAS | {f"values[].{p}" for p in REPO_EXTRAS},
            ),
            "bitbucket-cloud/api/repositories.page2.go-scm.json": (
                api("GET", "/repositories/acme?pagelen=1&page=4"),
                PAGE_EXTRAS | {"previous"} | {f"values[].{p}" for p in REPO_EXTRAS},
            ),
            "bitbucket-cloud/api/refs_branches.page.go-scm.json": (
                api("GET", repo + "/refs/branches?pagelen=1"),
                frozenset({"size"}) | {f"values[].{p}" for p in BRANCH_EXTRAS},
            ),
            "bitbucket-cloud/api/hooks.page.go-scm.json": (
                api("GET", repo + "/hooks"),
                {f"values[].{p}" for p in HOOK_EXTRAS},
            ),
            "bitbucket-cloud/api/hook.create.go-scm.json": (hook, HOOK_EXTRAS),
        }
        deliveries = forge.admin.wait_for_deliveries(len(DELIVERIES) + 2)
    for relative, (answer, extras) in answers.items():
        failures += compare(relative, example(shared, relative), answer, frozenset(extras))
    seen = set()
    for record in deliveries:
        body = json.loads(record["body"])
        key = _key(body)
        if key not in DELIVERIES:
            failures.append(f"unexpected delivery {key}")
            continue
        seen.add(key)
        relative = DELIVERIES[key]
        failures += compare(relative, example(shared, relative), body, delivery_extras())
    failures += [f"no delivery for {key}" for key in DELIVERIES if key not in seen]
    return failures
