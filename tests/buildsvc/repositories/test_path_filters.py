"""Path filters: the glob matcher against a well-kept reference (wcmatch), the reason a
delivery's outcome names, and validation when rules are saved."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wcmatch import glob as wcglob

from buildsvc.repositories.path_filters import filtered_reason
from buildsvc.repositories.paths import compile_glob
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo, add_repository
from tests.common.gitlab_env import Client

REFERENCE_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.CASE
GLOB_TOKENS = ["a", "b", "x", "-", ".", "*", "**", "?", "[ab]", "[!a]", "[a-c]", "[^a]", "[/]"]
SEGMENTS = ["a", "b", "ab", "ba", "x", ".a", "a.b", "a-b"]


def reference(glob: str, path: str) -> bool:
    """Our documented semantics, built from wcmatch: a glob without a '/' matches a name at
    any depth (MATCHBASE), a leading '/' anchors, and a glob matching a directory matches
    everything below it (tried on the path and each directory above it)."""
    anchored = glob.startswith("/") or "/" in glob.rstrip("/")
    flags = REFERENCE_FLAGS | (0 if anchored else wcglob.MATCHBASE)
    parts = path.split("/")
    heads = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(wcglob.globmatch(head, glob.strip("/"), flags=flags) for head in heads)


segment_globs = st.lists(st.sampled_from(GLOB_TOKENS), min_size=1, max_size=3).map("".join)
globs = st.builds(
    lambda lead, segments: lead + "/".join(segments),
    st.sampled_from(["", "/"]),
    st.lists(segment_globs, min_size=1, max_size=3),
)
paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join)


@settings(max_examples=600, deadline=None, database=None, derandomize=True)
@given(glob=globs, path=paths)
def test_the_matcher_agrees_with_wcmatch(glob: str, path: str) -> None:
    assert bool(compile_glob(glob).fullmatch(path)) is reference(glob, path), (glob, path)


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("a[/]b", "a/b", False),  # a class never matches the separator
        ("[!a]x", "/x", False),
        ("a**/c", "a/b/c", False),  # ** spans segments only as a whole segment
        ("a**", "abc", True),
        ("src/**/*.py", "src/a/b/c.py", True),
        ("**/test", "x/y/test/z.py", True),
    ],
)
def test_edges(glob: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(glob).fullmatch(path)) is matches


@pytest.mark.parametrize(
    ("include", "ignore", "changed", "complete", "reason"),
    [
        (["src/**"], [], ["README.md"], True, "no changed path matches rule 7's include_paths"),
        (
            [],
            ["*.md"],
            ["README.md", "docs/a.md"],
            True,
            "every changed path matches rule 7's ignore_paths",
        ),
        (
            ["src/"],
            ["*.md"],
            ["src/a.md", "README.md"],
            True,
            "every changed path matching rule 7's include_paths matches its ignore_paths",
        ),
        (["src/"], ["*.md"], ["src/a.md", "src/a.py"], True, None),
        (["src/"], [], ["README.md"], False, None),  # paths unknown: it builds
        (["src/"], [], [], True, None),  # no paths listed (a new branch): it builds
        ([], [], ["README.md"], True, None),
    ],
)
def test_filtered_reason(
    include: list[str], ignore: list[str], changed: list[str], complete: bool, reason: str | None
) -> None:
    assert filtered_reason(7, include, ignore, changed, complete) == reason


async def test_rules_with_bad_globs_are_refused_on_patch(
    client: Client, account: AccountInfo, auth_headers: dict[str, str]
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
    url = f"/api/v1/repositories/{repository.id}"
    rule: dict[str, Any] = {"type": "branch", "pattern": "main"}
    for field, globs, detail in [
        ("include_paths", ["src/**", "/"], "rules[0].include_paths: path glob '/': names no path"),
        ("ignore_paths", ["x" * 257], "rules[0].ignore_paths: path glob"),
        ("include_paths", ["*"] * 51, "rules[0].include_paths: at most 50 globs"),
    ]:
        response = await client.patch(
            url, json={"rules": [{**rule, field: globs}]}, headers=auth_headers
        )
        body = await response.json()
        assert response.status == 400, body
        assert body["error"]["code"] == "INVALID_RULE"
        assert body["error"]["detail"].startswith(detail)

    good = {**rule, "include_paths": ["src/**/*.py", "Dockerfile"], "ignore_paths": ["**/*.md"]}
    response = await client.patch(url, json={"rules": [good]}, headers=auth_headers)
    assert response.status == 200
    [saved] = (await response.json())["rules"]
    assert (saved["include_paths"], saved["ignore_paths"]) == (good["include_paths"], ["**/*.md"])
