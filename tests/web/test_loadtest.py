"""scripts/loadtest.py in short mode: 5 clients for 5 seconds, no unexpected answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "loadtest.py"


def test_short_load_test(tiny_zoo: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--clients", "5", "--duration", "5", "--root", str(tiny_zoo),
         "--database-url", f"sqlite:///{tmp_path / 'load.db'}"],
        capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["requests"] > 10
    assert summary["unexpected_errors"] == 0
    assert {"200", "422"} <= set(summary["status_counts"])
    assert summary["latency_ms"]["p50"] is not None
    assert summary["server_rss_kb"]["start"] > 0 and summary["server_rss_kb"]["end"] > 0


def test_refuses_non_loopback_targets() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--url", "http://example.com", "--duration", "1"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "loopback" in result.stderr
