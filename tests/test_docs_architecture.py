"""``docs/architecture.md`` names every package of ``buildsvc`` and nothing else.

The package table has one row per unit (``buildsvc/builds/``, ``buildsvc/metrics.py``),
and the layer table lists the units in the layers ``tests/common/layers.py`` checks the
imports against; a package added, removed or moved between layers fails here until the
page says so.
"""

from __future__ import annotations

import re

from tests.common.layers import LAYERS, ROOT, units_on_disk

PAGE = ROOT / "docs" / "architecture.md"
PACKAGE_ROW = re.compile(r"^\| `buildsvc/(\w+)(?:/|\.py)` \|", re.MULTILINE)
LAYER_ROW = re.compile(r"^\| ([\w ]+) \| (`.+`) \|$", re.MULTILINE)


def _section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _documented_units() -> list[str]:
    return PACKAGE_ROW.findall(_section("Packages"))


def test_the_package_table_lists_every_package_once() -> None:
    listed = _documented_units()
    assert len(listed) == len(set(listed)), "a package is listed twice"
    on_disk = units_on_disk() - {"__init__"}
    assert sorted(on_disk - set(listed)) == [], "packages missing from the table"
    assert sorted(set(listed) - on_disk) == [], "the table lists what does not exist"


def test_the_layer_table_is_the_checked_order() -> None:
    rows = LAYER_ROW.findall(_section("Layers"))
    documented = [(name, set(re.findall(r"`(\w+)/?`", units))) for name, units in rows]
    checked = [(layer.name, set(layer.units) - {"__init__"}) for layer in LAYERS]
    assert documented == checked


def test_the_readme_links_here_not_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/architecture.md" in readme
    assert "../shared/" not in readme
