"""arq stays behind its door: only ``builds/outbox.py`` (the client side: the pool, the
fast enqueue, job ids and keys) and ``worker/main.py`` (the worker side: arq's functions,
cron jobs and poll loop) import it, so an arq upgrade is checked there. Everything else
speaks ``buildsvc/queue.py``'s vocabulary (``JobSpec``, ``CronSpec``, ``RetryLater``)."""

from __future__ import annotations

import ast
from pathlib import Path

import buildsvc

PACKAGE = Path(buildsvc.__file__).parent
ALLOWED = {"builds/outbox.py", "worker/main.py"}


def imports_arq(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "arq" or name.startswith("arq.") for name in names):
            return True
    return False


def test_only_the_outbox_and_the_worker_main_import_arq() -> None:
    importing = {
        path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if imports_arq(path)
    }
    assert importing == ALLOWED  # both do: the walk sees imports


def test_the_walk_finds_every_form_of_import(tmp_path: Path) -> None:
    for source in ("import arq\n", "from arq.jobs import Job\n", "def f():\n    import arq.cron\n"):
        module = tmp_path / "m.py"
        module.write_text(source)
        assert imports_arq(module), source
    module.write_text("import arqueology\nfrom buildsvc.queue import ArqRedis\n")
    assert not imports_arq(module)
