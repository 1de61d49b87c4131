"""The chaos suite's short form (``make chaos-short``), so ``make test`` and CI run it.

60 signed pushes across 10 repositories into a cluster of its own while a worker and an
API process are SIGKILLed, Redis and PostgreSQL restarted, and every API process and
worker SIGTERMed in turn (``tests.chaos``). Nothing may be lost.
"""

from __future__ import annotations

import pytest

from tests.chaos.__main__ import run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_nothing_is_lost_while_the_cluster_fails(capsys: pytest.CaptureFixture[str]) -> None:
    found = run(pushes=60, repositories=10, seed=15, window=60.0, keep=False)
    with capsys.disabled():
        print("\n" + found.report())

    assert found.lost() == []
    assert found.answered_202 == found.recorded_once > 0
    assert found.builds_queued == found.builds_final > 0
    assert found.image_is_last_commit == found.refs == 10
    assert found.left_running == 0
