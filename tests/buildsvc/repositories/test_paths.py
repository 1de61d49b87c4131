"""Path filters of build rules (pure)."""

from __future__ import annotations

import pytest

from buildsvc.repositories.paths import GlobError, compile_glob, paths_allow


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/guide/a.md", True),
        ("*.md", "docs/a.mdx", False),
        ("docs", "docs/guide/intro.md", True),
        ("docs/", "docs/intro.md", True),
        ("docs", "src/docs/x.py", True),  # no slash: any depth
        ("/docs", "src/docs/x.py", False),  # anchored at the root
        ("src/*.py", "src/app.py", True),
        ("src/*.py", "src/pkg/app.py", False),
        ("src/**/test_*.py", "src/a/b/test_x.py", True),
        ("src/**/test_*.py", "src/test_x.py", True),
        ("src/**", "src/a/b", True),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file10.txt", False),
        ("[!a]bc", "xbc", True),
        ("[!a]bc", "abc", False),
        ("[ab]c", "bc", True),
    ],
)
def test_glob(glob: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(glob).fullmatch(path)) is matches


@pytest.mark.parametrize("glob", ["", "/", "x" * 257])
def test_invalid_globs(glob: str) -> None:
    with pytest.raises(GlobError):
        compile_glob(glob)


def test_no_filters_always_build() -> None:
    assert paths_allow([], [], ["a"], complete=True)


def test_include() -> None:
    assert paths_allow(["app/"], [], ["app/main.py", "README.md"], complete=True)
    assert not paths_allow(["app/"], [], ["README.md"], complete=True)


def test_ignore() -> None:
    assert not paths_allow([], ["*.md", "docs"], ["README.md", "docs/x.txt"], complete=True)
    assert paths_allow([], ["*.md"], ["README.md", "app.py"], complete=True)


def test_include_and_ignore() -> None:
    assert not paths_allow(["app"], ["app/**/*.md"], ["app/docs/x.md"], complete=True)
    assert paths_allow(["app"], ["app/**/*.md"], ["app/docs/x.md", "app/x.py"], complete=True)


def test_unknown_paths_build() -> None:
    assert paths_allow(["app"], [], ["README.md"], complete=False)
    assert paths_allow(["app"], [], [], complete=True)
