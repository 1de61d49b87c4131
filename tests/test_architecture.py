"""Import contracts: the layers of ``buildsvc`` point one way, and tests import no tests.

``LAYERS`` (``tests/common/layers.py``) lists every unit of the package (a subpackage
or a top-level module) from the bottom up, as ``docs/architecture.md`` does. A module may
import its own unit and any unit of a lower layer. Units of one layer marked
``independent`` may not import each other (``api``, ``console``, ``worker`` and
``metrics`` meet only in ``app.py``); in the others they may, as long as the units
form no cycle. Every ``import`` counts: module level, inside a function, or under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.layers import (
    ALLOWED_UPWARD,
    LAYERS,
    LEVEL,
    ROOT,
    import_edges,
    imports,
    module_name,
    unit_of,
    units_on_disk,
)


def _crossing(importer: str, imported: str) -> bool:
    return unit_of(importer) != unit_of(imported)


def _violations(edges: list[tuple[str, str]]) -> list[str]:
    found = []
    for importer, imported in edges:
        if not _crossing(importer, imported) or (importer, imported) in ALLOWED_UPWARD:
            continue
        mine, theirs = unit_of(importer), unit_of(imported)
        low, high = LEVEL[theirs], LEVEL[mine]
        if low > high:
            found.append(f"{importer} imports {imported}: {LAYERS[low].name} is above")
        elif low == high and LAYERS[low].independent:
            found.append(f"{importer} imports {imported}: same layer ({LAYERS[low].name})")
    return found


def test_every_unit_has_one_layer() -> None:
    listed = [unit for layer in LAYERS for unit in layer.units]
    assert len(listed) == len(set(listed)), "a unit is listed in two layers"
    assert units_on_disk() == set(listed)


def test_no_module_imports_from_a_layer_above_or_a_sibling() -> None:
    assert _violations(import_edges()) == []


def test_allowances_are_still_needed() -> None:
    assert set(import_edges()) >= ALLOWED_UPWARD


def test_units_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for importer, imported in import_edges():
        if _crossing(importer, imported) and (importer, imported) not in ALLOWED_UPWARD:
            graph.setdefault(unit_of(importer), set()).add(unit_of(imported))
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
    ("library", "foreign"),
    [
        ("buildsvc", {"forgesim", "tests", "bench"}),  # the service never runs the simulator
        ("webhooks", {"buildsvc", "forgesim", "tests"}),  # pure: bytes in, events out
        ("forgesim", {"buildsvc", "tests"}),  # a forge knows nothing of its client
    ],
)
def test_top_level_packages_stay_apart(library: str, foreign: set[str]) -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / library).rglob("*.py"))
        for name in imports(path.read_text(), module_name(path), path.name == "__init__.py")
        if name.split(".")[0] in foreign
    ]
    assert found == []


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
    found = list(imports(source, "buildsvc.console.probe", is_package=False))
    assert found == ["buildsvc.api", "buildsvc.console", "buildsvc.console.forms"]
    assert list(imports("from .keys import A\n", "buildsvc.web", is_package=True)) == [
        "buildsvc.web.keys"
    ]
    assert unit_of("buildsvc") == "__init__"
    assert unit_of("buildsvc.console.views") == "console"


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
