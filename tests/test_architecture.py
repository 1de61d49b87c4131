"""Import contracts: the layers of ``buildsvc`` point one way, and tests import no tests.

``LAYERS`` lists every unit of the package (a subpackage or a top-level module) from
the bottom up, the same order as the table in ``docs/architecture.md``. A module may
import its own unit and any unit of a lower layer. Units of one layer marked
``independent`` may not import each other (``api``, ``console``, ``worker`` and
``metrics`` meet only in ``app.py``); in the others they may, as long as the units
form no cycle. Every ``import`` counts: module level, inside a function, or under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "buildsvc"


@dataclass(frozen=True)
class Layer:
    name: str
    units: frozenset[str]
    independent: bool  # True: units of this layer may not import each other


def _layer(name: str, *units: str, independent: bool = True) -> Layer:
    return Layer(name, frozenset(units), independent)


LAYERS: tuple[Layer, ...] = (
    _layer(
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
    _layer("store", "store"),
    _layer("sources", "sources", "accounts", "startup"),
    _layer("bindings", "bindings", "forge_timing"),
    _layer("repositories", "repositories"),
    _layer("notifications", "notifications"),
    _layer("builds", "builds"),
    _layer("services above builds", "registry", "replication"),
    _layer("web", "web"),
    _layer("surfaces", "api", "console", "worker", "metrics", "client_cli"),
    _layer("preflight", "preflight"),
    _layer("entry points", "app", "cli", "__main__", "__init__", independent=False),
)

# Upward imports that another branch of issue 17 removes; each entry must still exist
# (a stale one fails ``test_allowances_are_still_needed``), so the merger deletes it.
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset(
    {
        # SourceNotBound moves to bindings/ (errors as classes).
        ("buildsvc.bindings.access", "buildsvc.repositories.errors"),
        # builds/prepared.py moves to store/fastpath/ (the raw SQLite writer).
        ("buildsvc.notifications.intake", "buildsvc.builds.prepared"),
    }
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 2:
        parts = parts[:-1]
    return ".".join(parts)


def _unit(module: str) -> str:
    """``buildsvc.builds.states`` -> ``builds``; ``buildsvc.app`` -> ``app``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(source: str, module: str, is_package: bool) -> Iterator[str]:
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


def _edges() -> list[tuple[str, str]]:
    """(importer, imported) for every import of a buildsvc module by buildsvc code."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        found = _imports(path.read_text(), importer, path.name == "__init__.py")
        edges += [(importer, m) for m in found if m.split(".")[0] == "buildsvc"]
    return edges


def _units_on_disk() -> set[str]:
    units = {p.stem for p in PACKAGE.glob("*.py")}
    units |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return units


LEVEL = {unit: index for index, layer in enumerate(LAYERS) for unit in layer.units}


def _crossing(importer: str, imported: str) -> bool:
    return _unit(importer) != _unit(imported)


def _violations(edges: list[tuple[str, str]]) -> list[str]:
    found = []
    for importer, imported in edges:
        if not _crossing(importer, imported) or (importer, imported) in ALLOWED_UPWARD:
            continue
        mine, theirs = _unit(importer), _unit(imported)
        low, high = LEVEL[theirs], LEVEL[mine]
        if low > high:
            found.append(f"{importer} imports {imported}: {LAYERS[low].name} is above")
        elif low == high and LAYERS[low].independent:
            found.append(f"{importer} imports {imported}: same layer ({LAYERS[low].name})")
    return found


def test_every_unit_has_one_layer() -> None:
    listed = [unit for layer in LAYERS for unit in layer.units]
    assert len(listed) == len(set(listed)), "a unit is listed in two layers"
    assert _units_on_disk() == set(listed)


def test_no_module_imports_from_a_layer_above_or_a_sibling() -> None:
    assert _violations(_edges()) == []


def test_allowances_are_still_needed() -> None:
    assert set(_edges()) >= ALLOWED_UPWARD


def test_units_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for importer, imported in _edges():
        if _crossing(importer, imported) and (importer, imported) not in ALLOWED_UPWARD:
            graph.setdefault(_unit(importer), set()).add(_unit(imported))
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, " -> ".join([*path, unit])
        if unit in done:
            return
        for nxt in sorted(graph.get(unit, ())):
            visit(nxt, (*path, unit))
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, ())


@pytest.mark.parametrize(
    ("importer", "imported", "why"),
    [
        ("buildsvc.console.views", "buildsvc.api.builds", "same layer (surfaces)"),
        ("buildsvc.api.builds", "buildsvc.console.render", "same layer (surfaces)"),
        ("buildsvc.metrics", "buildsvc.api.health", "same layer (surfaces)"),
        ("buildsvc.metrics", "buildsvc.console.views", "same layer (surfaces)"),
        ("buildsvc.builds.states", "buildsvc.worker.run", "surfaces is above"),
        ("buildsvc.sources.base", "buildsvc.worker.errors", "surfaces is above"),
        ("buildsvc.store.models", "buildsvc.builds.states", "builds is above"),
        ("buildsvc.web.keys", "buildsvc.app", "entry points is above"),
    ],
)
def test_the_contract_refuses(importer: str, imported: str, why: str) -> None:
    """The checks themselves: each forbidden import of the issue is caught."""
    (found,) = _violations([(importer, imported)])
    assert found.endswith(why)


def test_relative_imports_resolve() -> None:
    source = "from ..api import builds\nfrom . import render\nfrom .forms import x\n"
    found = list(_imports(source, "buildsvc.console.probe", is_package=False))
    assert found == ["buildsvc.api", "buildsvc.console", "buildsvc.console.forms"]
    assert list(_imports("from .keys import A\n", "buildsvc.web", is_package=True)) == [
        "buildsvc.web.keys"
    ]
    assert _unit("buildsvc") == "__init__"
    assert _unit("buildsvc.console.views") == "console"


# --- tests import no tests -------------------------------------------------------------


def _test_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "tests").rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _test_modules()
        for name in _imported_modules(path)
        if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert offenders == []
