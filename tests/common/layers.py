"""The layers of ``buildsvc``, bottom up, and the imports between its units.

A unit is a subpackage (``builds``) or a top-level module (``metrics``). ``LAYERS`` is
the order ``docs/architecture.md`` draws; ``tests/test_architecture.py`` checks the
imports against it and ``tests/test_docs_architecture.py`` the page.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "buildsvc"


@dataclass(frozen=True)
class Layer:
    name: str
    units: frozenset[str]
    independent: bool  # True: units of this layer may not import each other


def layer(name: str, *units: str, independent: bool = True) -> Layer:
    return Layer(name, frozenset(units), independent)


LAYERS: tuple[Layer, ...] = (
    layer(
        "leaves",
        "config",
        "errors",
        "files",
        "outage",
        "jsonlog",
        "crypto",
        "secret_args",
        "queue",
        "registry_challenge",
        independent=False,
    ),
    layer("store", "store"),
    layer("sources", "sources", "accounts", "startup"),
    layer("bindings", "bindings", "forge_timing"),
    layer("repositories", "repositories"),
    layer("notifications", "notifications"),
    layer("builds", "builds"),
    layer("intake", "intake"),
    layer("registry", "registry"),
    layer("replication", "replication"),  # copies what the registry holds, with its tokens
    layer("web", "web"),
    layer("surfaces", "api", "console", "worker", "metrics", "client_cli"),
    layer("preflight", "preflight"),
    layer("entry points", "app", "cli", "__main__", "__init__", independent=False),
)

# Upward imports tolerated by name; each entry must still exist (a stale one fails
# ``test_allowances_are_still_needed``). None today.
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def unit_of(module: str) -> str:
    """``buildsvc.builds.states`` -> ``builds``; ``buildsvc.app`` -> ``app``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(source: str, module: str, is_package: bool) -> Iterator[str]:
    """Every module ``source`` (the text of ``module``) imports, relative ones resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "buildsvc":  # from buildsvc import metrics, startup
                yield from (f"buildsvc.{alias.name}" for alias in node.names)
            else:
                yield base


def import_edges() -> list[tuple[str, str]]:
    """(importer, imported) for every import of a buildsvc module by buildsvc code."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        found = imports(path.read_text(), importer, path.name == "__init__.py")
        edges += [(importer, m) for m in found if m.split(".")[0] == "buildsvc"]
    return edges


def units_on_disk() -> set[str]:
    units = {p.stem for p in PACKAGE.glob("*.py")}
    units |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return units


LEVEL = {unit: index for index, layer in enumerate(LAYERS) for unit in layer.units}
