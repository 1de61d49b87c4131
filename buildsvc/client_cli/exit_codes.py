"""Exit codes of the user-facing commands (``buildsvc builds start --follow`` and friends).

====  =========================================================================
code  meaning
====  =========================================================================
0     done; with ``--follow``: the build succeeded
1     the API answered an error, could not be reached, or no login is saved
2     wrong usage (click's own code)
3     the build failed
4     the build was cancelled
5     the build timed out
6     the build was superseded by a newer push to the same ref
7     the API stayed unreachable for ``--reconnect-timeout`` while following a build
====  =========================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_CANCELLED = 4
EXIT_TIMED_OUT = 5
EXIT_SUPERSEDED = 6
EXIT_STREAM_LOST = 7

BY_STATUS = {
    "succeeded": EXIT_OK,
    "failed": EXIT_FAILED,
    "cancelled": EXIT_CANCELLED,
    "timed_out": EXIT_TIMED_OUT,
    "superseded": EXIT_SUPERSEDED,
}


def for_status(status: str | None) -> int:
    """The exit code for a build's final status (unknown or unfinished: stream lost)."""
    return BY_STATUS.get(status or "", EXIT_STREAM_LOST)
