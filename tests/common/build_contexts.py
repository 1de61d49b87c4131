"""Build contexts for builder tests: a Dockerfile and files, written into a directory."""

from __future__ import annotations

from pathlib import Path


def make_context(root: Path, dockerfile: str, **files: str) -> Path:
    """``root`` with ``dockerfile`` and ``files`` (``"a__b.txt"`` stands for ``a/b.txt``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, content in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root
