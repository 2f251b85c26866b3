"""The analysis scripts under scripts/, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ship_tiny

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_digit_errors_counts_every_entry_once(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "entry", ["2x2"])
    result = run_script("digit_errors.py", str(tmp_path / "sum"), "--size", "2x2", "--problems", "40")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["entries"] == 160
    assert sum(d["entries"] for d in report["by_decade"].values()) <= 160  # exact zeros belong to no decade
    rates = report["field_wrong"]
    assert set(rates) == {"sign", "exponent", "digit 1", "digit 2", "digit 3"}
    assert max(rates.values()) <= report["entry_wrong"] <= min(1.0, sum(rates.values()))


def test_digit_errors_refuses_a_token_layout(tmp_path: Path) -> None:
    ship_tiny(tmp_path / "sum", "sum", "P1000", ["2x2"])
    result = run_script("digit_errors.py", str(tmp_path / "sum"), "--size", "2x2", "--problems", "4")
    assert result.returncode == 2
    assert "not a three-digit entry-layout model" in result.stderr
