"""``buildsvc.sources`` is the package's public face, and the only one outside code uses."""

from __future__ import annotations

import ast
from pathlib import Path

import buildsvc.sources
from buildsvc.config import Settings
from buildsvc.sources import (
    BitbucketProvider,
    BitbucketServerProvider,
    GitHubProvider,
    GitLabProvider,
    build_providers,
)


def test_public_names() -> None:
    assert sorted(buildsvc.sources.__all__) == sorted(
        [
            "AddressPolicy",
            "Binding",
            "CommitState",
            "Credentials",
            "ForbiddenAddress",
            "BitbucketProvider",
            "BitbucketServerProvider",
            "GitHubProvider",
            "GitLabProvider",
            "Hook",
            "InvalidCaCert",
            "InvalidSourceUrl",
            "Namespace",
            "PinnedAdapter",
            "ProviderName",
            "RefNotFound",
            "SourceClient",
            "SourceProvider",
            "SourceRepository",
            "SourceUrlNotAllowed",
            "bounded",
            "build_providers",
            "resolve_checked",
        ]
    )
    for name in buildsvc.sources.__all__:
        assert getattr(buildsvc.sources, name) is not None


ROOT = Path(__file__).resolve().parents[3]
# A forge package's __init__ is public too (its adapter and client); its modules are not.
PUBLIC = {
    "buildsvc.sources",
    *(f"buildsvc.sources.{forge}" for forge in ("github", "gitlab", "bitbucket")),
}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_outside_code_imports_only_the_public_face() -> None:
    inside = {ROOT / "buildsvc" / "sources", ROOT / "tests" / "buildsvc" / "sources"}
    files = [
        path
        for folder in ("buildsvc", "tests", "bench", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if not any(path.is_relative_to(own) for own in inside)
    ]
    assert len(files) > 100
    private = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imported(path)
        if name.startswith("buildsvc.sources.") and name not in PUBLIC
    }
    assert private == set()


def test_build_providers() -> None:
    providers = build_providers(Settings())
    assert list(providers) == ["gitlab", "github", "bitbucket", "bitbucket-server"]
    expected = {
        "gitlab": GitLabProvider,
        "github": GitHubProvider,
        "bitbucket": BitbucketProvider,
        "bitbucket-server": BitbucketServerProvider,
    }
    for name, cls in expected.items():
        assert isinstance(providers[name], cls)
        assert providers[name].name == name
