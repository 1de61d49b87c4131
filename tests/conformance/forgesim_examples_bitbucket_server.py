"""forgesim's Bitbucket Server answers and deliveries against the published examples.

REST answers gained ``hierarchyId`` and ``archived`` on repositories and
``scopeType`` / ``sslVerificationRequired`` on webhooks after the captures (2018);
webhook payloads are compared with the captures of project repositories (the
go-playground sample is a personal ``~user`` project, which forgesim does not model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conformance.forgesim_examples import compare, example, git, receiving

REPO_EXTRAS = frozenset({"values[].hierarchyId", "values[].archived", "nextPageStart"})
HOOK_EXTRAS = frozenset({"scopeType", "sslVerificationRequired"})
ZERO = "0" * 40
# (ref type, change type) -> example
DELIVERIES = {
    ("BRANCH", "ADD"): "bitbucket-server/webhooks/repo_refs_changed.branch-created.go-scm.json",
    ("BRANCH", "UPDATE"): "bitbucket-server/webhooks/repo_refs_changed.branch.go-scm.json",
    ("BRANCH", "DELETE"): "bitbucket-server/webhooks/repo_refs_changed.branch-deleted.go-scm.json",
    ("TAG", "ADD"): "bitbucket-server/webhooks/repo_refs_changed.tag-created.go-scm.json",
    ("TAG", "DELETE"): "bitbucket-server/webhooks/repo_refs_changed.tag-deleted.go-scm.json",
}


def _push(url: str, work: Path) -> None:
    """One ref per push: main created then moved, develop created and deleted, v1 too."""
    clone = work / "clone"
    git("clone", "-q", url, str(clone))
    for name, text in (("README.md", "hello\n"), ("app.py", "print(1)\n")):
        (clone / name).write_text(text)
        git("add", "-A", cwd=clone)
        git("commit", "-qm", f"add {name}", cwd=clone)
        git("push", "-q", "origin", "HEAD:main", cwd=clone)
    git("tag", "v1", cwd=clone)
    for refspec in ("HEAD:develop", ":develop", "v1", ":refs/tags/v1"):
        git("push", "-q", "origin", refspec, cwd=clone)


def check_provider(shared: Path, work: Path) -> list[str]:
    import requests

    import forgesim

    failures: list[str] = []
    with receiving() as receiver, forgesim.running("bitbucket-server", work / "forge") as forge:
        forge.admin.create_user("jcitizen", email="conformance@example.com")
        token = forge.admin.create_token("jcitizen", ["REPO_ADMIN"])
        forge.admin.create_namespace("PRJ", members={"jcitizen": "repo_admin"})
        for name in ("my-repo", "quux"):
            forge.admin.create_repository("PRJ", name)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def api(method: str, path: str, body: Any = None) -> Any:
            resp = session.request(method, forge.api_url + path, json=body, timeout=10)
            resp.raise_for_status()
            return resp.json()

        repo = "/projects/PRJ/repos/my-repo"
        hook = api(
            "POST",
            repo + "/webhooks",
            {
                "name": "example",
                "events": ["repo:refs_changed"],
                "url": receiver,
                "active": True,
                "configuration": {"secret": "12345"},
            },
        )
        _push(forge.git_url_with_token("PRJ/my-repo", token, "jcitizen"), work)
        answers = {
            "bitbucket-server/api/user.go-scm.json": (api("GET", "/users/jcitizen"), set()),
            "bitbucket-server/api/repos.page.go-scm.json": (
                api("GET", "/projects/PRJ/repos?limit=1"),
                REPO_EXTRAS,
            ),
            "bitbucket-server/api/webhook.create.go-scm.json": (hook, HOOK_EXTRAS),
        }
        deliveries = forge.admin.wait_for_deliveries(len(DELIVERIES) + 1)
    for relative, (answer, extras) in answers.items():
        failures += compare(relative, example(shared, relative), answer, frozenset(extras))
    seen = set()
    for record in deliveries:
        body = json.loads(record["body"])
        change = body["changes"][0]
        key = (change["ref"]["type"], change["type"])
        if key not in DELIVERIES:
            failures.append(f"unexpected delivery {key}")
            continue
        seen.add(key)
        relative = DELIVERIES[key]
        failures += compare(relative, example(shared, relative), body)
    failures += [f"no delivery for {key}" for key in DELIVERIES if key not in seen]
    return failures
