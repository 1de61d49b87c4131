"""What build tests look at, whichever builder ran the build.

BuildKit runs a RUN step as a process of the engine, not as a container the engine
lists, and prefixes every output line (``#6 0.215 hello``); the legacy builder prints
the output bare. So a running step is found by its command line in ``/proc``, and a
log line is matched by how it ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def processes_containing(needle: bytes) -> list[str]:
    """Command lines of running processes whose argv contains ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        if needle in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def running_steps(marker: str) -> list[str]:
    """Build steps still running whose command holds ``marker``.

    The step's shell must outlive its slow command (``sleep 61 && echo x``): busybox sh
    ``exec``s a last command, and the shell's command line goes with it.
    """
    return processes_containing(marker.encode())


def said(lines: Iterable[str], text: str) -> bool:
    """Whether a step printed ``text`` as a line of its own (BuildKit's prefix or not)."""
    return any(line == text or line.endswith(f" {text}") for line in lines)


def step_cached(lines: Iterable[str], name: str) -> bool:
    """Whether BuildKit took the step whose name holds ``name`` from its cache.

    Step numbers (``#4``) follow the order BuildKit reports steps in, which differs
    between builds of one Dockerfile: a step is looked up by name in each log.
    """
    lines = list(lines)
    number = next(line.split()[0] for line in lines if line.startswith("#") and name in line)
    return f"{number} CACHED" in lines
