"""The service benchmark starts on an install made from the test extras (its HTTP client is the
one they install)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_service_load_benchmark_starts():
    r = subprocess.run([sys.executable, str(REPO / "bench" / "service_load.py"), "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert "--clients" in r.stdout


def test_service_recovery_benchmark_starts():
    r = subprocess.run([sys.executable, str(REPO / "bench" / "service_recovery.py"), "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert "--code" in r.stdout and "--kills" in r.stdout
