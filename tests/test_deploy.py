"""The systemd units in deploy/ pass `systemd-analyze verify` without a warning.

verify also requires ExecStart's program to exist, so the units are checked with it
pointing at this checkout's buildsvc instead of the /opt/buildsvc/venv they name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/buildsvc/venv/bin/buildsvc"


def test_the_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    units = sorted(UNITS.glob("*.service"))
    assert {unit.name for unit in units} == {"buildsvc-api@.service", "buildsvc-worker.service"}
    checked = []
    for unit in units:
        text = unit.read_text()
        assert f"ExecStart={INSTALLED} " in text
        # A template is verified as one of its instances (the instance is the port).
        name = unit.name.replace("@.", "@8081.")
        (tmp_path / name).write_text(text.replace(INSTALLED, f"{sys.prefix}/bin/buildsvc"))
        checked.append(str(tmp_path / name))

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *checked],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # unknown keys and bad values only warn
