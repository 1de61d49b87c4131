"""`make conformance`: real published forge examples against our parser and our simulator.

Each check returns a list of failure messages; any failure makes the run exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tests.conformance import forgesim_examples, webhooks_examples

CHECKS: dict[str, Callable[[], list[str]]] = {
    "webhooks parse every published payload": webhooks_examples.check,
    "forgesim answers have the published structure": forgesim_examples.check,
}


def main() -> int:
    failed = 0
    for name, check in CHECKS.items():
        failures = check()
        print(f"{'FAIL' if failures else 'ok  '} {name}")
        for failure in failures:
            print(f"     - {failure}")
        failed += len(failures)
    print(f"conformance: {failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
